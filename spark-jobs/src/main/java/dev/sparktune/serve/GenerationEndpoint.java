package dev.sparktune.serve;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplateException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code POST /v1/completions} and {@code POST /v1/chat/completions}: the request's prompts become {@link Sequence}s
 * in the model's {@link ContinuousBatcher}; the answer is one JSON object, or with {@code stream: true} OpenAI's
 * chunks as server-sent events ending with {@code data: [DONE]}. Both carry {@code usage}.
 */
final class GenerationEndpoint {
    /** OpenAI's limit on stop sequences. */
    private static final int MAX_STOPS = 4;
    /** OpenAI's default max_tokens for /v1/completions. */
    private static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

    private final ServerSettings settings;
    private final ServerMetrics metrics;

    GenerationEndpoint(ServerSettings settings, ServerMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
    }

    /** What differs between the two endpoints' answers. */
    private enum Shape {
        COMPLETION("cmpl-", "text_completion", "text_completion"),
        CHAT("chatcmpl-", "chat.completion", "chat.completion.chunk");

        final String idPrefix;
        final String object;
        final String chunkObject;

        Shape(String idPrefix, String object, String chunkObject) {
            this.idPrefix = idPrefix;
            this.object = object;
            this.chunkObject = chunkObject;
        }
    }

    void completions(ServedModel model, ContinuousBatcher batcher, RequestFields body, Exchange exchange)
            throws IOException {
        List<String> prompts = body.strings("prompt", settings.maxChoices());
        if (prompts.isEmpty()) {
            throw ApiError.badField("prompt", "prompt is required: a string or an array of strings");
        }
        List<long[]> encoded = new ArrayList<>();
        for (String prompt : prompts) {
            encoded.add(model.tokenizer().encode(prompt));
        }
        run(model, batcher, body, encoded, "prompt", COMPLETIONS_DEFAULT_MAX_TOKENS, Shape.COMPLETION, exchange);
    }

    void chat(ServedModel model, ContinuousBatcher batcher, RequestFields body, Exchange exchange) throws IOException {
        List<ChatMessage> messages = messages(body.array("messages"));
        if (model.chatTemplate() == null) {
            throw ApiError.badField("messages", model.id() + " has no chat template (" + model.templateProblem()
                    + "); use /v1/completions with a prompt");
        }
        String text;
        try {
            synchronized (model.chatTemplate()) {
                text = model.chatTemplate().render(messages, true);
            }
        } catch (ChatTemplateException e) {
            throw ApiError.badField("messages", "the chat template of " + model.id() + " refused these messages: "
                    + e.getMessage());
        }
        run(model, batcher, body, List.of(model.tokenizer().encode(text, false)), "messages", 0, Shape.CHAT, exchange);
    }

    private static List<ChatMessage> messages(JsonArray array) {
        if (array.isEmpty()) {
            throw ApiError.badField("messages", "messages must hold at least one message");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            String where = "messages[" + i + "]";
            if (!(array.get(i) instanceof JsonObject message)) {
                throw ApiError.badField(where, where + " must be an object with role and content");
            }
            RequestFields fields = new RequestFields(message);
            String role = fields.string("role", null);
            if (role == null) {
                throw ApiError.badField(where + ".role", where + ".role is required");
            }
            out.add(new ChatMessage(role, content(fields.get("content"), where + ".content")));
        }
        return out;
    }

    /** A message's content: a string, or an array of {@code {"type": "text", "text": ...}} parts joined. */
    private static String content(JsonElement content, String where) {
        if (content == null) {
            return "";
        }
        if (content.isJsonPrimitive() && content.getAsJsonPrimitive().isString()) {
            return content.getAsString();
        }
        if (content instanceof JsonArray parts) {
            StringBuilder text = new StringBuilder();
            for (JsonElement part : parts) {
                if (!(part instanceof JsonObject p) || !"text".equals(new RequestFields(p).string("type", null))
                        || !p.has("text") || !p.get("text").isJsonPrimitive()) {
                    throw ApiError.badField(where, where + ": only text parts ({\"type\": \"text\", \"text\": ...})"
                            + " are supported, got " + RequestFields.shown(part));
                }
                text.append(p.get("text").getAsString());
            }
            return text.toString();
        }
        throw ApiError.badField(where, where + " must be a string or an array of text parts, got "
                + RequestFields.shown(content));
    }

    private void run(ServedModel model, ContinuousBatcher batcher, RequestFields body, List<long[]> prompts,
                     String promptField, int defaultMaxTokens, Shape shape, Exchange exchange) throws IOException {
        int n = (int) body.integer("n", 1, 1, settings.maxChoices());
        if (n * prompts.size() > settings.maxChoices()) {
            throw ApiError.badField("n", "n times the number of prompts may be at most " + settings.maxChoices()
                    + ", got " + n * prompts.size());
        }
        String maxTokensField = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        long requested = body.integer(maxTokensField, 0, 1, settings.maxTokens());
        double temperature = body.number("temperature", 1.0, 0, 2);
        double topP = body.number("top_p", 1.0, Double.MIN_VALUE, 1);
        long seed = body.has("seed") ? body.integer("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE)
                : ThreadLocalRandom.current().nextLong();
        List<String> stops = body.strings("stop", MAX_STOPS);
        if (stops.contains("")) {
            throw ApiError.badField("stop", "stop sequences must not be empty");
        }
        boolean stream = body.bool("stream", false);

        int longest = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        if (prompts.stream().anyMatch(p -> p.length == 0)) {
            throw ApiError.badField(promptField, "a prompt is empty and this tokenizer adds no special tokens, so"
                    + " there is nothing to complete");
        }
        int room = model.contextLength() - longest;
        int maxTokens = requested > 0 ? (int) requested
                : defaultMaxTokens > 0 ? defaultMaxTokens : Math.min(settings.maxTokens(), room);
        if (room < 1 || maxTokens > room) {
            throw new ApiError(400, "invalid_request_error", promptField, "context_length_exceeded",
                    "this model's context is " + model.contextLength() + " tokens; the prompt has " + longest
                            + " and " + maxTokens + " more were asked for; shorten the prompt or lower "
                            + maxTokensField);
        }

        BlockingQueue<Sequence.Event> events = new LinkedBlockingQueue<>();
        List<Sequence> sequences = new ArrayList<>();
        for (int p = 0; p < prompts.size(); p++) {
            for (int c = 0; c < n; c++) {
                GenerationConfig config = GenerationConfig.greedy(maxTokens).withStops(model.stopTokenIds(), stops);
                if (temperature > 0) {
                    config = config.sampling(temperature, 0, topP, seed + c);
                }
                sequences.add(new Sequence(sequences.size(), prompts.get(p), config, events));
            }
        }
        try {
            batcher.submit(sequences);
        } catch (ContinuousBatcher.QueueFullException e) {
            throw new ApiError(429, "rate_limit_error", null, "queue_full", e.getMessage());
        } catch (IllegalStateException e) {
            throw new ApiError(503, "service_unavailable", null, null, e.getMessage());
        }
        int promptTokens = prompts.stream().mapToInt(p -> p.length).sum();
        Answer answer = new Answer(model, shape, sequences, stops, promptTokens);
        try {
            if (stream) {
                answer.stream(events, exchange);
            } else {
                answer.collect(events);
                exchange.json(answer.json());
            }
        } finally {
            sequences.forEach(Sequence::cancel);
            metrics.tokens(model.id(), promptTokens, answer.completionTokens());
        }
    }

    /** The choices of one request as their events arrive. */
    private final class Answer {
        private final ServedModel model;
        private final Shape shape;
        private final List<Sequence> sequences;
        private final List<String> stops;
        private final int promptTokens;
        private final String id;
        private final long created = System.currentTimeMillis() / 1000;
        private final List<List<Long>> tokens = new ArrayList<>();
        private final String[] finish;
        private final long deadline = System.nanoTime() + settings.requestTimeout().toNanos();

        Answer(ServedModel model, Shape shape, List<Sequence> sequences, List<String> stops, int promptTokens) {
            this.model = model;
            this.shape = shape;
            this.sequences = sequences;
            this.stops = stops;
            this.promptTokens = promptTokens;
            this.id = shape.idPrefix + UUID.randomUUID().toString().replace("-", "");
            this.finish = new String[sequences.size()];
            sequences.forEach(s -> tokens.add(new ArrayList<>()));
        }

        /** The next event of any choice; a timeout or a failed sequence is an {@link ApiError}. */
        private Sequence.Event next(BlockingQueue<Sequence.Event> events) {
            try {
                Sequence.Event event = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (event == null) {
                    throw new ApiError(504, "timeout_error", null, "timeout", "the completion did not end within "
                            + settings.requestTimeout().toSeconds() + " s; ask for fewer tokens or retry later");
                }
                if (event instanceof Sequence.Failed failed) {
                    throw new ApiError(500, "server_error", null, null, "generation failed: "
                            + failed.cause().getMessage());
                }
                return event;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "service_unavailable", null, null, "the server is shutting down");
            }
        }

        private boolean open() {
            for (String f : finish) {
                if (f == null) {
                    return true;
                }
            }
            return false;
        }

        void collect(BlockingQueue<Sequence.Event> events) {
            while (open()) {
                record(next(events));
            }
        }

        private void record(Sequence.Event event) {
            if (event instanceof Sequence.Token token) {
                tokens.get(token.index()).add(token.id());
            } else if (event instanceof Sequence.Finished finished) {
                finish[finished.index()] = finished.reason();
            }
        }

        long[] ids(int index) {
            return tokens.get(index).stream().mapToLong(Long::longValue).toArray();
        }

        int completionTokens() {
            return tokens.stream().mapToInt(List::size).sum();
        }

        JsonObject json() {
            JsonArray choices = new JsonArray();
            for (int i = 0; i < sequences.size(); i++) {
                String text = CompletionText.complete(model.tokenizer(), ids(i), stops);
                JsonObject choice = new JsonObject();
                choice.addProperty("index", i);
                if (shape == Shape.CHAT) {
                    JsonObject message = new JsonObject();
                    message.addProperty("role", "assistant");
                    message.addProperty("content", text);
                    choice.add("message", message);
                } else {
                    choice.addProperty("text", text);
                }
                choice.add("logprobs", JsonNull.INSTANCE);
                choice.addProperty("finish_reason", finish[i]);
                choices.add(choice);
            }
            JsonObject out = header(shape.object);
            out.add("choices", choices);
            out.add("usage", usage());
            return out;
        }

        void stream(BlockingQueue<Sequence.Event> events, Exchange exchange) throws IOException {
            exchange.startEvents();
            List<CompletionText> texts = new ArrayList<>();
            for (int i = 0; i < sequences.size(); i++) {
                texts.add(new CompletionText(model.tokenizer(), stops));
                if (shape == Shape.CHAT) {
                    JsonObject delta = new JsonObject();
                    delta.addProperty("role", "assistant");
                    delta.addProperty("content", "");
                    exchange.event(chunk(i, delta, null));
                }
            }
            try {
                while (open()) {
                    Sequence.Event event = next(events);
                    record(event);
                    int i = event.index();
                    if (event instanceof Sequence.Token) {
                        String delta = texts.get(i).delta(ids(i));
                        if (!delta.isEmpty()) {
                            exchange.event(chunk(i, text(delta), null));
                        }
                    } else if (event instanceof Sequence.Finished finished) {
                        String rest = texts.get(i).rest(ids(i));
                        exchange.event(chunk(i, rest.isEmpty() && shape == Shape.CHAT ? new JsonObject() : text(rest),
                                finished.reason()));
                    }
                }
                JsonObject usage = header(shape.chunkObject);
                usage.add("choices", new JsonArray());
                usage.add("usage", usage());
                exchange.event(usage);
            } catch (ApiError e) {
                // the status line is gone; the error travels as an event, as OpenAI's streams report one
                exchange.event(e.toJson());
            }
            exchange.done();
        }

        private JsonObject text(String delta) {
            JsonObject out = new JsonObject();
            out.addProperty(shape == Shape.CHAT ? "content" : "text", delta);
            return out;
        }

        private JsonObject chunk(int index, JsonObject delta, String finishReason) {
            JsonObject choice = new JsonObject();
            choice.addProperty("index", index);
            if (shape == Shape.CHAT) {
                choice.add("delta", delta);
            } else {
                choice.addProperty("text", delta.has("text") ? delta.get("text").getAsString() : "");
            }
            choice.add("logprobs", JsonNull.INSTANCE);
            if (finishReason == null) {
                choice.add("finish_reason", JsonNull.INSTANCE);
            } else {
                choice.addProperty("finish_reason", finishReason);
            }
            JsonArray choices = new JsonArray();
            choices.add(choice);
            JsonObject out = header(shape.chunkObject);
            out.add("choices", choices);
            return out;
        }

        private JsonObject header(String object) {
            JsonObject out = new JsonObject();
            out.addProperty("id", id);
            out.addProperty("object", object);
            out.addProperty("created", created);
            out.addProperty("model", model.id());
            return out;
        }

        private JsonObject usage() {
            JsonObject usage = new JsonObject();
            usage.addProperty("prompt_tokens", promptTokens);
            usage.addProperty("completion_tokens", completionTokens());
            usage.addProperty("total_tokens", promptTokens + completionTokens());
            return usage;
        }
    }
}
