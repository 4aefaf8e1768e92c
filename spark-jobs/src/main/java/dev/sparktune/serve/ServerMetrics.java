package dev.sparktune.serve;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * The server's counters, written in Prometheus' text exposition format (version 0.0.4) for {@code GET /metrics}:
 * requests by endpoint and status, their latency, prompt and completion tokens, forward passes and how many sequences
 * each one carried (the batch size, which shows continuous batching at work), and the waiting queue.
 */
final class ServerMetrics {
    private static final double[] LATENCY_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
    private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> promptTokens = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> completionTokens = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> forwardPasses = new ConcurrentHashMap<>();
    private final Map<String, Histogram> latency = new ConcurrentHashMap<>();
    private final Map<String, Histogram> batchSize = new ConcurrentHashMap<>();
    private final Map<String, IntSupplier> queued = new ConcurrentHashMap<>();

    void request(String endpoint, int status, double seconds) {
        requests.computeIfAbsent(labels("endpoint", endpoint, "status", Integer.toString(status)), k -> new LongAdder())
                .increment();
        latency.computeIfAbsent(labels("endpoint", endpoint), k -> new Histogram(LATENCY_BUCKETS)).observe(seconds);
    }

    void tokens(String model, int prompt, int completion) {
        promptTokens.computeIfAbsent(labels("model", model), k -> new LongAdder()).add(prompt);
        completionTokens.computeIfAbsent(labels("model", model), k -> new LongAdder()).add(completion);
    }

    /** One forward pass of {@code model} over {@code sequences} rows; {@code phase} is prefill, decode or encode. */
    void forwardPass(String model, String phase, int sequences) {
        forwardPasses.computeIfAbsent(labels("model", model, "phase", phase), k -> new LongAdder()).increment();
        batchSize.computeIfAbsent(labels("model", model), k -> new Histogram(BATCH_BUCKETS)).observe(sequences);
    }

    void queue(String model, IntSupplier waiting) {
        queued.put(labels("model", model), waiting);
    }

    String exposition() {
        StringBuilder out = new StringBuilder();
        counter(out, "sparktune_requests_total", "HTTP requests answered, by endpoint and status", requests);
        histogram(out, "sparktune_request_duration_seconds", "Time from request to the last byte of the answer",
                latency);
        counter(out, "sparktune_prompt_tokens_total", "Prompt tokens of answered requests", promptTokens);
        counter(out, "sparktune_completion_tokens_total", "Tokens generated for answered requests", completionTokens);
        counter(out, "sparktune_forward_passes_total", "Forward passes of a model, by phase", forwardPasses);
        histogram(out, "sparktune_batch_size", "Sequences carried by one forward pass", batchSize);
        out.append("# HELP sparktune_queue_waiting Sequences waiting to join a batch\n")
                .append("# TYPE sparktune_queue_waiting gauge\n");
        new TreeMap<>(queued).forEach((labels, value) ->
                out.append("sparktune_queue_waiting").append(labels).append(' ').append(value.getAsInt()).append('\n'));
        return out.toString();
    }

    private static void counter(StringBuilder out, String name, String help, Map<String, LongAdder> series) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" counter\n");
        new TreeMap<>(series).forEach((labels, value) ->
                out.append(name).append(labels).append(' ').append(value.sum()).append('\n'));
    }

    private static void histogram(StringBuilder out, String name, String help, Map<String, Histogram> series) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n')
                .append("# TYPE ").append(name).append(" histogram\n");
        new TreeMap<>(series).forEach((labels, histogram) -> histogram.write(out, name, labels));
    }

    /** {@code {a="x",b="y"}} from name/value pairs; values are escaped as the format asks. */
    static String labels(String... pairs) {
        StringBuilder s = new StringBuilder("{");
        for (int i = 0; i < pairs.length; i += 2) {
            if (i > 0) {
                s.append(',');
            }
            String value = pairs[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
            s.append(pairs[i]).append("=\"").append(value).append('"');
        }
        return s.append('}').toString();
    }

    /** Cumulative buckets, a sum and a count, as Prometheus histograms are written. */
    private static final class Histogram {
        private final double[] bounds;
        private final LongAdder[] counts;
        private final DoubleAdder sum = new DoubleAdder();
        private final LongAdder count = new LongAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new LongAdder[bounds.length];
            for (int i = 0; i < bounds.length; i++) {
                counts[i] = new LongAdder();
            }
        }

        void observe(double value) {
            for (int i = 0; i < bounds.length; i++) {
                if (value <= bounds[i]) {
                    counts[i].increment();
                }
            }
            sum.add(value);
            count.increment();
        }

        void write(StringBuilder out, String name, String labels) {
            String open = labels.substring(0, labels.length() - 1) + ",le=\"";
            for (int i = 0; i < bounds.length; i++) {
                out.append(name).append("_bucket").append(open).append(bound(bounds[i])).append("\"} ")
                        .append(counts[i].sum()).append('\n');
            }
            long total = count.sum();
            out.append(name).append("_bucket").append(open).append("+Inf\"} ").append(total).append('\n')
                    .append(name).append("_sum").append(labels).append(' ').append(sum.sum()).append('\n')
                    .append(name).append("_count").append(labels).append(' ').append(total).append('\n');
        }

        private static String bound(double b) {
            return b == Math.rint(b) ? Long.toString((long) b) : Double.toString(b);
        }
    }
}
