package dev.sparktune.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.serve.OpenAiServer;
import dev.sparktune.serve.ServerSettings;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * Benchmark, not a test: a bounded load test of {@code sparktune serve} over loopback. A tiny random Llama (the
 * serve tests' model: 2 layers, hidden 32, all-MiniLM-L6-v2's 30,522-token vocabulary) answers a fixed number of
 * greedy completions (16 new tokens each) from 1, 8 and 32 concurrent clients, each client sending its next request
 * when the last is answered. Every answer is checked against {@code sparktune generate}'s text for its prompt, and
 * each request id must come back exactly once. Prints Markdown for BENCHMARKS.md.
 */
public final class ServeLoadBenchmark {
    private static final int REQUESTS = 96;
    private static final int NEW_TOKENS = 16;
    private static final int[] CLIENTS = {1, 8, 32};

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("serve-bench");
        Path model = ServeCommandTest.writeTinyChatLlama(dir.resolve("tiny-chat-llama"));
        List<String> prompts = IntStream.range(0, REQUESTS).mapToObj(i -> "request " + i + " asks about"
                + " spark".repeat(i % 7)).toList();
        GenerateCommandTest.Run reference = GenerateCommandTest.sparktune(String.join("\n", prompts) + "\n",
                "generate", "--model", model.toString(), "--json", "--batch-size", "1", "--max-new-tokens",
                String.valueOf(NEW_TOKENS));
        List<String> expected = reference.lines().stream().map(l -> JsonParser.parseString(l).getAsJsonObject()
                .get("completion").getAsString()).toList();

        System.out.printf(Locale.ROOT, "%d requests of %d new tokens per level; load average at start: %s%n%n",
                REQUESTS, NEW_TOKENS, Files.readString(Path.of("/proc/loadavg")).trim());
        System.out.println("| concurrent clients | requests/s | tokens/s | p50 latency | p99 latency | forward passes"
                + " | mean sequences per pass | errors |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        try (ServeCommand.Models loaded = ServeCommand.Models.load(model, List.of());
             OpenAiServer server = OpenAiServer.start(ServerSettings.loopback(0))) {
            server.ready(loaded.served(), loaded.base().manager());
            ServeHttp http = new ServeHttp(server.uri());
            for (int clients : CLIENTS) {
                level(http, clients, prompts, expected);
            }
        }
    }

    private static void level(ServeHttp http, int clients, List<String> prompts, List<String> expected)
            throws InterruptedException {
        String before = http.get("/metrics").body();
        AtomicInteger next = new AtomicInteger();
        Map<Integer, Integer> answered = new ConcurrentHashMap<>();
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        double[] latency = new double[prompts.size()];
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            pool.execute(() -> {
                for (int i = next.getAndIncrement(); i < prompts.size(); i = next.getAndIncrement()) {
                    JsonObject body = new JsonObject();
                    body.addProperty("prompt", prompts.get(i));
                    body.addProperty("max_tokens", NEW_TOKENS);
                    body.addProperty("temperature", 0);
                    long t0 = System.nanoTime();
                    HttpResponse<String> response = http.post("/v1/completions", body.toString());
                    latency[i] = (System.nanoTime() - t0) / 1e9;
                    answered.merge(i, 1, Integer::sum);
                    String text = response.statusCode() != 200 ? null : ServeHttp.json(response)
                            .getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
                    if (!expected.get(i).equals(text)) {
                        errors.add("request " + i + ": " + response.statusCode() + " " + response.body());
                    }
                }
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the level with " + clients + " clients ran past 10 minutes");
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (answered.size() != prompts.size() || answered.values().stream().anyMatch(n -> n != 1)) {
            errors.add("requests lost or duplicated: " + answered);
        }
        String after = http.get("/metrics").body();
        String passes = "sparktune_forward_passes_total{model=\"tiny-chat-llama\"";
        String rows = "sparktune_batch_size_sum{model=\"tiny-chat-llama\"";
        double passCount = ServeCommandTest.metric(after, passes) - ServeCommandTest.metric(before, passes);
        double rowCount = ServeCommandTest.metric(after, rows) - ServeCommandTest.metric(before, rows);
        double[] sorted = latency.clone();
        Arrays.sort(sorted);
        System.out.printf(Locale.ROOT, "| %d | %.1f | %.0f | %.3f s | %.3f s | %.0f | %.1f | %d |%n", clients,
                prompts.size() / seconds, prompts.size() * NEW_TOKENS / seconds, percentile(sorted, 0.50),
                percentile(sorted, 0.99), passCount, rowCount / passCount, errors.size());
        errors.stream().limit(5).forEach(e -> System.out.println("    " + e));
    }

    /** The nearest-rank percentile of sorted values. */
    private static double percentile(double[] sorted, double p) {
        return sorted[Math.max(0, (int) Math.ceil(p * sorted.length) - 1)];
    }
}
