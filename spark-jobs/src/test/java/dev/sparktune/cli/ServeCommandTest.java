package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.serve.OpenAiServer;
import dev.sparktune.serve.ServerSettings;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune serve}'s server over real HTTP on a loopback port, serving a tiny random Llama (MiniLM's tokenizer,
 * the chatml template) and a LoRA adapter of it. The reference for every completion is {@code sparktune generate} run
 * in-process on the same folders, one prompt at a time.
 */
class ServeCommandTest {
    private static final List<String> PROMPTS = List.of(
            "what does spark schedule?",
            "hello",
            "the model answers every question briefly and then stops");
    private static final int NEW_TOKENS = 12;

    @TempDir
    static Path dir;
    private static Path model;
    private static Path adapter;
    private static ServeCommand.Models loaded;
    private static OpenAiServer server;
    private static ServeHttp http;

    @BeforeAll
    static void startServer() throws IOException {
        model = writeTinyChatLlama(dir.resolve("tiny-chat-llama"));
        adapter = dir.resolve("tiny-lora");
        try (NDManager manager = NDManager.newBaseManager()) {
            PretrainedModel base = ModelDirectory.open(model).load(manager, DataType.FLOAT32);
            Lora lora = new Lora(4, 16, 0, List.of("q_proj", "v_proj"), false, false, List.of());
            Map<String, NDArray> trained = new LinkedHashMap<>();
            PeftModel.apply(base, lora, manager, 1).trainableTensors().forEach((name, t) -> trained.put(name,
                    name.contains("lora_B") ? manager.randomNormal(0, 0.5f, t.getShape(), DataType.FLOAT32) : t));
            PeftFormat.save(PeftModel.withTensors(base, lora, trained), adapter, model.toString());
        }
        loaded = ServeCommand.Models.load(model, List.of(adapter));
        server = OpenAiServer.start(ServerSettings.loopback(0));
        server.ready(loaded.served(), loaded.base().manager());
        http = new ServeHttp(server.uri());
    }

    /**
     * A tiny random Llama over all-MiniLM-L6-v2's vocabulary with that tokenizer and the chatml template, its context
     * 1024 positions.
     */
    static Path writeTinyChatLlama(Path out) throws IOException {
        return TinyChatLlama.write(out, 1024);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
        if (loaded != null) {
            loaded.close();
        }
    }

    /** {@code sparktune generate --json} on each prompt alone (batch size 1): the reference completions. */
    private static List<String> generate(List<String> prompts, String... options) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--json",
                "--batch-size", "1"));
        args.addAll(List.of(options));
        GenerateCommandTest.Run run = GenerateCommandTest.sparktune(String.join("\n", prompts) + "\n",
                args.toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.stderr());
        return run.lines().stream().map(l -> JsonParser.parseString(l).getAsJsonObject().get("completion")
                .getAsString()).toList();
    }

    private static String chatBody(String prompt, int maxTokens, String extra) {
        JsonObject body = new JsonObject();
        body.addProperty("model", "tiny-chat-llama");
        JsonArray messages = new JsonArray();
        JsonObject user = new JsonObject();
        user.addProperty("role", "user");
        user.addProperty("content", prompt);
        messages.add(user);
        body.add("messages", messages);
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", 0);
        String json = body.toString();
        return extra.isEmpty() ? json : json.substring(0, json.length() - 1) + "," + extra + "}";
    }

    private static String completionBody(String model, String prompt, int maxTokens, String extra) {
        JsonObject body = new JsonObject();
        body.addProperty("model", model);
        body.addProperty("prompt", prompt);
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", 0);
        String json = body.toString();
        return extra.isEmpty() ? json : json.substring(0, json.length() - 1) + "," + extra + "}";
    }

    @Test
    void modelsListsTheBaseAndEachAdapter() {
        HttpResponse<String> response = http.get("/v1/models");

        assertEquals(200, response.statusCode(), response.body());
        JsonObject list = ServeHttp.json(response);
        assertEquals("list", list.get("object").getAsString());
        JsonArray data = list.getAsJsonArray("data");
        assertEquals(2, data.size(), response.body());
        assertEquals("tiny-chat-llama", data.get(0).getAsJsonObject().get("id").getAsString());
        assertTrue(data.get(0).getAsJsonObject().get("parent").isJsonNull());
        assertEquals("tiny-lora", data.get(1).getAsJsonObject().get("id").getAsString());
        assertEquals("tiny-chat-llama", data.get(1).getAsJsonObject().get("parent").getAsString());
    }

    @Test
    void chatIsTheGenerateCommandsGreedyChatAndItsStreamAddsUpToTheSameText() {
        List<String> expected = generate(PROMPTS, "--chat", "--max-new-tokens", String.valueOf(NEW_TOKENS));
        assertTrue(expected.stream().anyMatch(s -> s.contains(" ")), "the premise: the random model writes words");

        for (int i = 0; i < PROMPTS.size(); i++) {
            HttpResponse<String> response = http.post("/v1/chat/completions", chatBody(PROMPTS.get(i), NEW_TOKENS, ""));
            assertEquals(200, response.statusCode(), response.body());
            JsonObject answer = ServeHttp.json(response);
            assertEquals("chat.completion", answer.get("object").getAsString());
            JsonObject choice = answer.getAsJsonArray("choices").get(0).getAsJsonObject();
            assertEquals("assistant", choice.getAsJsonObject("message").get("role").getAsString());
            assertEquals(expected.get(i), choice.getAsJsonObject("message").get("content").getAsString());
            JsonObject usage = answer.getAsJsonObject("usage");
            int completionTokens = usage.get("completion_tokens").getAsInt();
            assertTrue(completionTokens >= 1 && completionTokens <= NEW_TOKENS, usage.toString());
            assertEquals(usage.get("prompt_tokens").getAsInt() + completionTokens, usage.get("total_tokens").getAsInt());
            assertEquals(completionTokens == NEW_TOKENS ? "length" : "stop", choice.get("finish_reason").getAsString());

            HttpResponse<String> streamed = http.post("/v1/chat/completions",
                    chatBody(PROMPTS.get(i), NEW_TOKENS, "\"stream\": true"));
            assertEquals(200, streamed.statusCode(), streamed.body());
            assertTrue(streamed.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
            List<String> events = ServeHttp.events(streamed.body());
            assertEquals("[DONE]", events.get(events.size() - 1));
            StringBuilder text = new StringBuilder();
            String finish = null;
            JsonObject streamUsage = null;
            for (String event : events.subList(0, events.size() - 1)) {
                JsonObject chunk = JsonParser.parseString(event).getAsJsonObject();
                assertEquals("chat.completion.chunk", chunk.get("object").getAsString(), event);
                assertEquals("tiny-chat-llama", chunk.get("model").getAsString());
                if (chunk.has("usage")) {
                    streamUsage = chunk.getAsJsonObject("usage");
                    continue;
                }
                JsonObject c = chunk.getAsJsonArray("choices").get(0).getAsJsonObject();
                JsonObject delta = c.getAsJsonObject("delta");
                if (delta.has("content")) {
                    text.append(delta.get("content").getAsString());
                }
                if (!c.get("finish_reason").isJsonNull()) {
                    finish = c.get("finish_reason").getAsString();
                }
            }
            assertEquals(expected.get(i), text.toString(), streamed.body());
            assertEquals(choice.get("finish_reason").getAsString(), finish);
            assertEquals(usage, streamUsage);
            assertTrue(events.size() > 3, "the premise: the text came in more than one piece: " + streamed.body());
        }
    }

    @Test
    void completionsAreTheGenerateCommandsAndAStopStringCutsThem() {
        List<String> expected = generate(PROMPTS, "--max-new-tokens", String.valueOf(NEW_TOKENS));
        for (int i = 0; i < PROMPTS.size(); i++) {
            HttpResponse<String> response = http.post("/v1/completions",
                    completionBody("tiny-chat-llama", PROMPTS.get(i), NEW_TOKENS, ""));
            assertEquals(200, response.statusCode(), response.body());
            JsonObject answer = ServeHttp.json(response);
            assertEquals("text_completion", answer.get("object").getAsString());
            assertEquals(expected.get(i), answer.getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                    .getAsString());
        }

        String free = expected.get(0);
        assertTrue(free.length() >= 6, "the premise: a completion to cut, got '" + free + "'");
        String stop = free.substring(3, 5);
        List<String> cut = generate(List.of(PROMPTS.get(0)), "--max-new-tokens", String.valueOf(NEW_TOKENS),
                "--stop", stop);
        assertEquals(free.substring(0, free.indexOf(stop)), cut.get(0), "the premise: generate cuts there");
        String stopField = "\"stop\": [" + new com.google.gson.JsonPrimitive(stop) + "]";
        JsonObject answer = ServeHttp.json(http.post("/v1/completions",
                completionBody("tiny-chat-llama", PROMPTS.get(0), NEW_TOKENS, stopField)));
        JsonObject choice = answer.getAsJsonArray("choices").get(0).getAsJsonObject();
        assertEquals(cut.get(0), choice.get("text").getAsString());
        assertEquals("stop", choice.get("finish_reason").getAsString());

        HttpResponse<String> streamed = http.post("/v1/completions",
                completionBody("tiny-chat-llama", PROMPTS.get(0), NEW_TOKENS, stopField + ", \"stream\": true"));
        String text = ServeHttp.events(streamed.body()).stream().filter(e -> !e.equals("[DONE]"))
                .map(e -> JsonParser.parseString(e).getAsJsonObject().getAsJsonArray("choices"))
                .filter(c -> !c.isEmpty()).map(c -> c.get(0).getAsJsonObject().get("text").getAsString())
                .collect(Collectors.joining());
        assertEquals(cut.get(0), text);
    }

    @Test
    void anAdapterIsServedUnderItsFolderName() {
        List<String> expected = generate(PROMPTS, "--adapter", adapter.toString(), "--max-new-tokens",
                String.valueOf(NEW_TOKENS));
        assertNotEquals(generate(PROMPTS, "--max-new-tokens", String.valueOf(NEW_TOKENS)), expected,
                "the premise: the adapter changes the completions");
        for (int i = 0; i < PROMPTS.size(); i++) {
            JsonObject answer = ServeHttp.json(http.post("/v1/completions",
                    completionBody("tiny-lora", PROMPTS.get(i), NEW_TOKENS, "")));
            assertEquals("tiny-lora", answer.get("model").getAsString());
            assertEquals(expected.get(i), answer.getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                    .getAsString());
        }
    }

    @Test
    void thirtyTwoConcurrentRequestsGetTheirOwnGreedyAnswersFromSharedForwardPasses() {
        List<String> prompts = IntStream.range(0, 32).mapToObj(i -> "request " + i + " asks"
                + " about batching".repeat(i % 5) + (i % 3 == 0 ? " and spark?" : ".")).toList();
        int tokens = 8;
        List<String> expected = generate(prompts, "--max-new-tokens", String.valueOf(tokens));
        String before = http.get("/metrics").body();

        List<CompletableFuture<HttpResponse<String>>> answers = prompts.stream()
                .map(p -> http.postAsync("/v1/completions", completionBody("tiny-chat-llama", p, tokens, "")))
                .toList();

        int generated = 0;
        for (int i = 0; i < prompts.size(); i++) {
            HttpResponse<String> response = answers.get(i).join();
            assertEquals(200, response.statusCode(), response.body());
            JsonObject answer = ServeHttp.json(response);
            assertEquals(expected.get(i), answer.getAsJsonArray("choices").get(0).getAsJsonObject().get("text")
                    .getAsString(), "request " + i);
            generated += answer.getAsJsonObject("usage").get("completion_tokens").getAsInt();
        }
        String after = http.get("/metrics").body();
        double passes = metric(after, "sparktune_forward_passes_total{model=\"tiny-chat-llama\"")
                - metric(before, "sparktune_forward_passes_total{model=\"tiny-chat-llama\"");
        double singleRows = metric(after, "sparktune_batch_size_bucket{model=\"tiny-chat-llama\",le=\"1\"}")
                - metric(before, "sparktune_batch_size_bucket{model=\"tiny-chat-llama\",le=\"1\"}");
        // one request alone takes one forward pass per generated token
        assertTrue(passes < generated, passes + " forward passes for " + generated + " tokens");
        assertTrue(passes < prompts.size(), passes + " forward passes for " + prompts.size() + " requests");
        assertTrue(singleRows < passes, "passes carrying one sequence: " + singleRows + " of " + passes);
    }

    /** The sum of the samples whose name and labels start with {@code prefix}. */
    static double metric(String exposition, String prefix) {
        double sum = 0;
        for (String line : exposition.lines().toList()) {
            if (line.startsWith(prefix)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    @Test
    void everyRefusalIsAnOpenAiErrorObjectWithItsStatus() {
        HttpResponse<String> malformed = http.post("/v1/chat/completions", "{\"messages\": [");
        assertEquals(400, malformed.statusCode(), malformed.body());
        assertEquals("invalid_request_error", ServeHttp.error(malformed).get("type").getAsString());
        assertTrue(ServeHttp.error(malformed).get("message").getAsString().contains("not valid JSON"));

        HttpResponse<String> badField = http.post("/v1/chat/completions",
                chatBody("hi", 4, "\"top_p\": \"most\""));
        assertEquals(400, badField.statusCode(), badField.body());
        assertEquals("top_p", ServeHttp.error(badField).get("param").getAsString());

        HttpResponse<String> noMessages = http.post("/v1/chat/completions", "{\"model\": \"tiny-chat-llama\"}");
        assertEquals(400, noMessages.statusCode());
        assertEquals("messages", ServeHttp.error(noMessages).get("param").getAsString());

        HttpResponse<String> unknownModel = http.post("/v1/completions",
                completionBody("gpt-4", "hi", 4, ""));
        assertEquals(404, unknownModel.statusCode());
        assertEquals("model_not_found", ServeHttp.error(unknownModel).get("code").getAsString());

        HttpResponse<String> tooManyTokens = http.post("/v1/completions",
                completionBody("tiny-chat-llama", "hi", 4096, ""));
        assertEquals(400, tooManyTokens.statusCode());
        assertEquals("max_tokens", ServeHttp.error(tooManyTokens).get("param").getAsString());

        HttpResponse<String> longPrompt = http.post("/v1/completions",
                completionBody("tiny-chat-llama", "word ".repeat(1030), 4, ""));
        assertEquals(400, longPrompt.statusCode(), longPrompt.body());
        assertEquals("context_length_exceeded", ServeHttp.error(longPrompt).get("code").getAsString());

        HttpResponse<String> oversized = http.post("/v1/completions",
                completionBody("tiny-chat-llama", "x".repeat(2 << 20), 4, ""));
        assertEquals(413, oversized.statusCode());
        assertEquals("request_too_large", ServeHttp.error(oversized).get("code").getAsString());

        HttpResponse<String> noRoute = http.get("/v1/engines");
        assertEquals(404, noRoute.statusCode());
        assertTrue(ServeHttp.error(noRoute).has("message"));

        HttpResponse<String> wrongMethod = http.get("/v1/completions");
        assertEquals(405, wrongMethod.statusCode());

        HttpResponse<String> encoderRoute = http.post("/v1/embeddings", "{\"input\": \"hi\"}");
        assertEquals(400, encoderRoute.statusCode());
        assertEquals("model", ServeHttp.error(encoderRoute).get("param").getAsString());

        HttpResponse<String> unknownFieldsIgnored = http.post("/v1/completions",
                completionBody("tiny-chat-llama", "hi", 2, "\"user\": \"me\", \"logit_bias\": {}"));
        assertEquals(200, unknownFieldsIgnored.statusCode(), unknownFieldsIgnored.body());
    }

    @Test
    void anApiKeyIsCheckedOnTheApiRoutes() {
        try (OpenAiServer keyed = OpenAiServer.start(ServerSettings.loopback(0).withApiKey("s3cret-key"))) {
            keyed.ready(loaded.served(), loaded.base().manager());
            ServeHttp client = new ServeHttp(keyed.uri());
            String body = completionBody("tiny-chat-llama", "hi", 2, "");

            HttpResponse<String> none = client.post("/v1/completions", body);
            assertEquals(401, none.statusCode());
            assertEquals("invalid_api_key", ServeHttp.error(none).get("code").getAsString());
            assertEquals(401, client.post("/v1/completions", body, "Authorization", "Bearer s3cret-kez").statusCode());
            assertEquals(401, client.post("/v1/completions", body, "Authorization", "Bearer s3cret-key-longer")
                    .statusCode());
            assertEquals(200, client.post("/v1/completions", body, "Authorization", "Bearer s3cret-key").statusCode());
            assertEquals(200, client.get("/health").statusCode(), "health needs no key");
        }
    }

    @Test
    void whileLoadingEverythingIs503AndAFullQueueIs429WithRetryAfter() {
        ServerSettings small = ServerSettings.loopback(0).withLimits(1, 1, 1 << 20, 2048, Duration.ofMinutes(2));
        try (OpenAiServer busy = OpenAiServer.start(small)) {
            ServeHttp client = new ServeHttp(busy.uri());
            HttpResponse<String> health = client.get("/health");
            assertEquals(503, health.statusCode());
            assertEquals("loading", ServeHttp.json(health).get("status").getAsString());
            HttpResponse<String> loading = client.post("/v1/completions", completionBody("tiny-chat-llama", "hi", 2, ""));
            assertEquals(503, loading.statusCode());
            assertEquals("model_loading", ServeHttp.error(loading).get("code").getAsString());

            busy.ready(loaded.served(), loaded.base().manager());
            assertEquals(200, client.get("/health").statusCode());
            // one long stream fills the batch of one; the next request waits in the queue of one; a third is refused
            HttpResponse<Stream<String>> running = client.postLines("/v1/completions",
                    completionBody("tiny-chat-llama", "hello", 900, "\"stream\": true"));
            Iterator<String> lines = running.body().iterator();
            assertTrue(lines.next().startsWith("data: "), "the stream has begun");
            CompletableFuture<HttpResponse<String>> queued = client.postAsync("/v1/completions",
                    completionBody("tiny-chat-llama", "hi", 2, ""));
            waitUntil(() -> metric(client.get("/metrics").body(), "sparktune_queue_waiting{model=\"tiny-chat-llama\"}")
                    == 1);
            HttpResponse<String> refused = client.post("/v1/completions", completionBody("tiny-chat-llama", "hi", 2, ""));

            assertEquals(429, refused.statusCode(), refused.body());
            assertEquals("1", refused.headers().firstValue("Retry-After").orElse(null));
            assertEquals("queue_full", ServeHttp.error(refused).get("code").getAsString());
            String last = "";
            while (lines.hasNext()) {
                String line = lines.next();
                last = line.isEmpty() ? last : line;
            }
            assertEquals("data: [DONE]", last);
            assertEquals(200, queued.join().statusCode());
        }
    }

    @Test
    void shutdownLetsTheRequestInFlightFinishAndAnswersNewOnes503() throws Exception {
        String body = completionBody("tiny-chat-llama", "hello", 900, "\"stream\": true");
        String whole = ServeHttp.events(http.post("/v1/completions", body).body()).stream()
                .filter(e -> !e.equals("[DONE]")).map(e -> JsonParser.parseString(e).getAsJsonObject())
                .filter(e -> !e.getAsJsonArray("choices").isEmpty())
                .map(e -> e.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString())
                .collect(Collectors.joining());

        OpenAiServer stopping = OpenAiServer.start(ServerSettings.loopback(0));
        stopping.ready(loaded.served(), loaded.base().manager());
        ServeHttp client = new ServeHttp(stopping.uri());
        HttpResponse<Stream<String>> inFlight = client.postLines("/v1/completions", body);
        Iterator<String> lines = inFlight.body().iterator();
        List<String> received = new ArrayList<>(List.of(lines.next()));
        CompletableFuture<Integer> shutdown = CompletableFuture.supplyAsync(stopping::shutdown);
        HttpResponse<String> refused = null;
        for (int attempt = 0; attempt < 200 && (refused == null || refused.statusCode() != 503); attempt++) {
            refused = client.post("/v1/completions", completionBody("tiny-chat-llama", "hi", 1, ""));
        }

        assertEquals(503, refused.statusCode(), refused.body());
        assertEquals("shutting_down", ServeHttp.error(refused).get("code").getAsString());
        lines.forEachRemaining(received::add);
        List<String> events = ServeHttp.events(String.join("\n", received) + "\n");
        assertEquals("[DONE]", events.get(events.size() - 1));
        String text = events.stream().filter(e -> !e.equals("[DONE]")).map(e -> JsonParser.parseString(e)
                        .getAsJsonObject().getAsJsonArray("choices")).filter(c -> !c.isEmpty())
                .map(c -> c.get(0).getAsJsonObject().get("text").getAsString()).collect(Collectors.joining());
        assertEquals(whole, text);
        assertEquals(0, shutdown.get());
    }

    @Test
    void samplingWithASeedIsTheGenerateCommandsAndNGivesOneChoiceEach() {
        List<String> sampled = generate(PROMPTS, "--max-new-tokens", String.valueOf(NEW_TOKENS), "--temperature",
                "1.3", "--top-p", "0.9", "--seed", "11");
        List<String> seedPlusOne = generate(PROMPTS, "--max-new-tokens", String.valueOf(NEW_TOKENS), "--temperature",
                "1.3", "--top-p", "0.9", "--seed", "12");
        assertNotEquals(generate(PROMPTS, "--max-new-tokens", String.valueOf(NEW_TOKENS)), sampled,
                "the premise: sampling is not greedy");
        for (int i = 0; i < PROMPTS.size(); i++) {
            JsonObject answer = ServeHttp.json(http.post("/v1/completions", completionBody("tiny-chat-llama",
                    PROMPTS.get(i), NEW_TOKENS, "\"temperature\": 1.3, \"top_p\": 0.9, \"seed\": 11, \"n\": 2")));
            JsonArray choices = answer.getAsJsonArray("choices");
            assertEquals(2, choices.size());
            assertEquals(sampled.get(i), choices.get(0).getAsJsonObject().get("text").getAsString());
            assertEquals(1, choices.get(1).getAsJsonObject().get("index").getAsInt());
            assertEquals(seedPlusOne.get(i), choices.get(1).getAsJsonObject().get("text").getAsString(),
                    "choice i samples with seed + i");
        }
    }

    @Test
    void aRequestPastItsTimeoutIs504AndLeavesTheBatch() {
        ServerSettings quick = ServerSettings.loopback(0).withLimits(4, 16, 1 << 20, 2048, Duration.ofMillis(200));
        try (OpenAiServer server = OpenAiServer.start(quick)) {
            server.ready(loaded.served(), loaded.base().manager());
            ServeHttp client = new ServeHttp(server.uri());

            HttpResponse<String> slow = client.post("/v1/completions", completionBody("tiny-chat-llama", "hello", 1000,
                    ""));
            assertEquals(504, slow.statusCode(), slow.body());
            assertEquals("timeout", ServeHttp.error(slow).get("code").getAsString());
            waitUntil(() -> {
                String now = client.get("/metrics").body();
                double passes = metric(now, "sparktune_forward_passes_total{model=\"tiny-chat-llama\"");
                sleep(100);
                return passes == metric(client.get("/metrics").body(),
                        "sparktune_forward_passes_total{model=\"tiny-chat-llama\"");
            });
            String metrics = client.get("/metrics").body();
            assertTrue(metric(metrics, "sparktune_forward_passes_total{model=\"tiny-chat-llama\"") < 1000,
                    "the cancelled sequence stopped decoding: " + metrics);
            assertEquals(200, client.post("/v1/completions", completionBody("tiny-chat-llama", "hi", 2, ""))
                    .statusCode());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void userErrorsExitWithTwoAndAMessageBeforeAnythingListens() {
        GenerateCommandTest.Run noKey = GenerateCommandTest.sparktune("", "serve", "--model", model.toString(),
                "--port", "0", "--api-key-env", "SPARKTUNE_TEST_KEY_THAT_IS_NOT_SET");
        assertEquals(2, noKey.exitCode());
        assertTrue(noKey.stderr().contains("SPARKTUNE_TEST_KEY_THAT_IS_NOT_SET") && noKey.stderr().contains("not set"),
                noKey.stderr());

        GenerateCommandTest.Run noModel = GenerateCommandTest.sparktune("", "serve", "--model",
                dir.resolve("nowhere").toString(), "--port", "0");
        assertEquals(2, noModel.exitCode());
        assertTrue(noModel.stderr().contains("does not exist"), noModel.stderr());

        GenerateCommandTest.Run badBatch = GenerateCommandTest.sparktune("", "serve", "--model", model.toString(),
                "--port", "0", "--max-batch", "0");
        assertEquals(2, badBatch.exitCode());
        assertTrue(badBatch.stderr().contains("max batch"), badBatch.stderr());
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
