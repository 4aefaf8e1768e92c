package dev.sparktune.serve;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.sparktune.arch.Bert;
import dev.sparktune.embed.SentenceEmbedder;
import dev.sparktune.ml.BatchScorer;
import dev.sparktune.tokenize.EncodedBatch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * {@code POST /v1/embeddings} and {@code POST /v1/classify} for one encoder. A request's inputs run as one batch; the
 * batches of concurrent requests run one after another on a single worker from a bounded queue (a full queue is a
 * 429), since an encoder has no decoding steps for requests to join between. Embeddings are {@code sparktune embed}'s
 * (mean pooling, not normalised); class probabilities are {@code FineTunedModel}'s.
 */
final class EncoderEndpoint implements AutoCloseable {
    private final ServedModel served;
    private final Bert model;
    private final NDManager manager;
    private final ServerSettings settings;
    private final ServerMetrics metrics;
    private final SentenceEmbedder embedder;
    private final ThreadPoolExecutor worker;

    EncoderEndpoint(ServedModel served, NDManager manager, ServerSettings settings, ServerMetrics metrics) {
        this.served = served;
        this.model = (Bert) served.model();
        this.manager = manager;
        this.settings = settings;
        this.metrics = metrics;
        this.embedder = new SentenceEmbedder(model, served.tokenizer(), SentenceEmbedder.Pooling.MEAN, false,
                served.contextLength());
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(settings.maxQueue()),
                r -> {
                    Thread t = new Thread(r, "sparktune-encoder-" + served.id());
                    t.setDaemon(true);
                    return t;
                });
        metrics.queue(served.id(), () -> worker.getQueue().size());
    }

    void embeddings(RequestFields body, Exchange exchange) throws IOException {
        List<String> inputs = inputs(body);
        String format = body.string("encoding_format", "float");
        if (!format.equals("float") && !format.equals("base64")) {
            throw ApiError.badField("encoding_format", "encoding_format must be float or base64, got "
                    + RequestFields.shown(new JsonPrimitive(format)));
        }
        int hidden = model.config().hiddenSize();
        if (body.has("dimensions") && body.integer("dimensions", hidden, 1, Integer.MAX_VALUE) != hidden) {
            throw ApiError.badField("dimensions", served.id() + " makes " + hidden + "-dimensional embeddings;"
                    + " leave out dimensions or set it to " + hidden);
        }
        float[][] vectors = onWorker(() -> {
            float[][] out = embedder.embed(inputs, manager);
            metrics.forwardPass(served.id(), "encode", inputs.size());
            return out;
        });
        JsonArray data = new JsonArray();
        for (int i = 0; i < vectors.length; i++) {
            JsonObject item = new JsonObject();
            item.addProperty("object", "embedding");
            item.addProperty("index", i);
            if (format.equals("base64")) {
                ByteBuffer bytes = ByteBuffer.allocate(vectors[i].length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(vectors[i]);
                item.addProperty("embedding", Base64.getEncoder().encodeToString(bytes.array()));
            } else {
                JsonArray vector = new JsonArray(vectors[i].length);
                for (float v : vectors[i]) {
                    vector.add(v);
                }
                item.add("embedding", vector);
            }
            data.add(item);
        }
        int tokens = Arrays.stream(served.tokenizer().encodeBatch(inputs, served.contextLength()).attentionMask())
                .mapToInt(row -> (int) Arrays.stream(row).sum()).sum();
        JsonObject out = new JsonObject();
        out.addProperty("object", "list");
        out.add("data", data);
        out.addProperty("model", served.id());
        out.add("usage", usage(tokens));
        metrics.tokens(served.id(), tokens, 0);
        exchange.json(out);
    }

    /** vLLM's classify answer: per input the most probable label and every class's probability. */
    void classify(RequestFields body, Exchange exchange) throws IOException {
        if (!served.classifies()) {
            throw ApiError.badField("model", served.id() + " has no sequence-classification head; /v1/classify needs"
                    + " a fine-tuned classifier");
        }
        List<String> inputs = inputs(body);
        List<long[]> ids = BatchScorer.encode(served.tokenizer(), inputs, true, 0, 0);
        double[][] probabilities = onWorker(() -> {
            double[][] out = BatchScorer.classProbabilities(model, ids, manager);
            metrics.forwardPass(served.id(), "encode", inputs.size());
            return out;
        });
        JsonArray data = new JsonArray();
        for (int i = 0; i < probabilities.length; i++) {
            double[] p = probabilities[i];
            int best = 0;
            JsonArray probs = new JsonArray();
            for (int c = 0; c < p.length; c++) {
                probs.add(p[c]);
                best = p[c] > p[best] ? c : best;
            }
            JsonObject item = new JsonObject();
            item.addProperty("index", i);
            item.addProperty("label", served.labels().get(best));
            item.add("probs", probs);
            item.addProperty("num_classes", p.length);
            data.add(item);
        }
        int tokens = ids.stream().mapToInt(r -> r.length).sum();
        JsonObject out = new JsonObject();
        out.addProperty("id", "classify-" + UUID.randomUUID().toString().replace("-", ""));
        out.addProperty("object", "list");
        out.addProperty("created", System.currentTimeMillis() / 1000);
        out.addProperty("model", served.id());
        out.add("data", data);
        out.add("usage", usage(tokens));
        metrics.tokens(served.id(), tokens, 0);
        exchange.json(out);
    }

    private List<String> inputs(RequestFields body) {
        List<String> inputs = body.strings("input", settings.maxChoices());
        if (inputs.isEmpty()) {
            throw ApiError.badField("input", "input is required: a string or an array of strings");
        }
        return inputs;
    }

    private <T> T onWorker(Supplier<T> work) {
        Future<T> result;
        try {
            result = worker.submit(work::get);
        } catch (RejectedExecutionException e) {
            throw new ApiError(429, "rate_limit_error", null, "queue_full", "the queue of " + served.id()
                    + " is full (" + settings.maxQueue() + " requests waiting); retry later");
        }
        try {
            return result.get(settings.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            result.cancel(false);
            throw new ApiError(504, "timeout_error", null, "timeout", "the request did not end within "
                    + settings.requestTimeout().toSeconds() + " s; retry later");
        } catch (ExecutionException e) {
            throw new ApiError(500, "server_error", null, null, served.id() + " failed: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "service_unavailable", null, null, "the server is shutting down");
        }
    }

    private static JsonObject usage(int tokens) {
        JsonObject usage = new JsonObject();
        usage.addProperty("prompt_tokens", tokens);
        usage.addProperty("total_tokens", tokens);
        return usage;
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
