package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI-compatible translator, its retries and timeout, batching, bounded concurrency and the translation cache
 * against a stub: no real LLM server can run here, so an in-test HTTP server speaks the chat-completions API. It
 * "translates" to Spanish by prefixing {@code ES:} and back to English by dropping it and appending {@code (bt)}.
 */
@Tag("integration")
class OpenAiTranslatorAgainstStubServerTest {
    private static final Gson GSON = new Gson();

    private HttpServer server;
    private final ConcurrentLinkedQueue<JsonObject> requests = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> authorizations = new ConcurrentLinkedQueue<>();
    /** Statuses to answer before answering normally, one per request. */
    private final List<Integer> failFirst = Collections.synchronizedList(new ArrayList<>());
    private volatile long delayMs;
    private volatile boolean answerProse;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/v1/chat/completions", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private URI base() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private void handle(HttpExchange exchange) throws IOException {
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        try {
            JsonObject body = JsonParser.parseString(
                    new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
            requests.add(body);
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            authorizations.add(auth == null ? "" : auth);
            Integer status = failFirst.isEmpty() ? null : failFirst.remove(0);
            if (status != null) {
                if (status == 429) {
                    exchange.getResponseHeaders().add("Retry-After", "0");
                }
                respond(exchange, status, "{\"error\":{\"message\":\"stub says " + status + "\"}}");
                return;
            }
            Thread.sleep(delayMs);
            JsonArray messages = body.getAsJsonArray("messages");
            String system = messages.get(0).getAsJsonObject().get("content").getAsString();
            String user = messages.get(1).getAsJsonObject().get("content").getAsString();
            boolean toSpanish = system.contains("to Spanish");
            String content;
            List<String> texts = OpenAiChatTranslator.jsonArray(user);
            if (texts != null && system.contains("JSON array") && !answerProse) {
                List<String> out = texts.stream().map(t -> fake(t, toSpanish)).toList();
                content = "```json\n" + GSON.toJson(out) + "\n```";
            } else {
                content = answerProse && system.contains("JSON array") ? "Sure! Here are your translations." : fake(user, toSpanish);
            }
            JsonObject message = new JsonObject();
            message.addProperty("role", "assistant");
            message.addProperty("content", content);
            JsonObject choice = new JsonObject();
            choice.add("message", message);
            JsonArray choices = new JsonArray();
            choices.add(choice);
            JsonObject answer = new JsonObject();
            answer.add("choices", choices);
            respond(exchange, 200, answer.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private static String fake(String text, boolean toSpanish) {
        return toSpanish ? "ES:" + text : text.replace("ES:", "") + " (bt)";
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        } catch (IOException clientGone) {
            // the client timed out and closed the connection
        }
    }

    private OpenAiChatTranslator translator(int retries, Duration timeout) {
        return new OpenAiChatTranslator(URI.create(base() + "/v1"), "stub-model", "secret-key",
                new RetryingHttp(retries, Duration.ofMillis(10), timeout));
    }

    @Test
    void aBatchIsOneRequestAndComesBackInOrder() throws Exception {
        List<String> out = translator(0, Duration.ofSeconds(5)).translate("eng", "spa", List.of("one", "two", "three"));
        assertEquals(List.of("ES:one", "ES:two", "ES:three"), out);
        assertEquals(1, requests.size());
        JsonObject request = requests.peek();
        assertEquals("stub-model", request.get("model").getAsString());
        assertEquals(0, request.get("temperature").getAsInt());
        assertEquals("Bearer secret-key", authorizations.peek());
    }

    @Test
    void retriesAfter500And429ThenSucceeds() throws Exception {
        failFirst.addAll(List.of(500, 429));
        List<String> out = translator(2, Duration.ofSeconds(5)).translate("eng", "spa", List.of("hello"));
        assertEquals(List.of("ES:hello"), out);
        assertEquals(3, requests.size());
    }

    @Test
    void givesUpAfterTheLastRetryAsUnavailable() {
        failFirst.addAll(List.of(503, 503, 503, 503));
        TranslationException e = assertThrows(TranslationException.class,
                () -> translator(2, Duration.ofSeconds(5)).translate("eng", "spa", List.of("hello")));
        assertTrue(e.unavailable());
        assertTrue(e.getMessage().contains("HTTP 503"), e.getMessage());
        assertEquals(3, requests.size());
    }

    @Test
    void aSlowServerTimesOutOnEveryAttempt() {
        delayMs = 3_000;
        TranslationException e = assertThrows(TranslationException.class,
                () -> translator(1, Duration.ofMillis(300)).translate("eng", "spa", List.of("hello")));
        assertTrue(e.unavailable());
        assertTrue(e.getMessage().contains("no answer within 300 ms"), e.getMessage());
        assertEquals(2, requests.size());
    }

    @Test
    void aClientErrorIsNotRetried() {
        failFirst.add(400);
        TranslationException e = assertThrows(TranslationException.class,
                () -> translator(3, Duration.ofSeconds(5)).translate("eng", "spa", List.of("hello")));
        assertFalse(e.unavailable());
        assertEquals(1, requests.size());
    }

    @Test
    void anAnswerThatIsNotAnArrayFallsBackToOneTextPerRequest() throws Exception {
        answerProse = true;
        List<String> out = translator(0, Duration.ofSeconds(5)).translate("eng", "spa", List.of("a b", "c d"));
        assertEquals(List.of("ES:a b", "ES:c d"), out);
        assertEquals(3, requests.size());
    }

    @Test
    void backTranslationBatchesBoundsConcurrencyAndCachesOnTheFileSystem(@TempDir Path dir) throws Exception {
        delayMs = 150;
        String cacheDir = dir.resolve("cache").toUri().toString();
        BackTranslationOptions options = new BackTranslationOptions(BackTranslationOptions.OPENAI, base(),
                "stub-model", null, "eng", "spa", 2, 10_000, 2, 1, Duration.ofMillis(10), Duration.ofSeconds(10),
                cacheDir);
        BackTranslator backTranslator = new BackTranslator(BackTranslator.translatorFor(options), options);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            texts.add("sentence " + i);
        }
        texts.add("sentence 3"); // a repeat is translated once
        Configuration conf = new Configuration();
        TranslationCache cache = TranslationCache.open(cacheDir, conf);
        Map<String, String> added = new HashMap<>();
        List<TranslationOutcome> out = backTranslator.roundTrip(texts, cache, added);
        for (int i = 0; i < texts.size(); i++) {
            assertEquals(texts.get(i) + " (bt)", out.get(i).text(), String.valueOf(out.get(i).failure()));
        }
        assertEquals(10, requests.size(), "10 distinct texts, 2 per batch, 2 hops");
        assertEquals(2, maxInFlight.get(), "at most 2 requests in flight, and the pool used both");
        assertEquals(20, added.size());
        cache.add(added);

        // another JVM would only have the files: read them through a fresh cache on a copy of the folder
        Path copy = dir.resolve("copy");
        Files.createDirectories(copy);
        try (var files = Files.list(dir.resolve("cache"))) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        server.stop(0);
        TranslationCache fromFiles = TranslationCache.open(copy.toUri().toString(), conf);
        fromFiles.refresh();
        assertEquals(20, fromFiles.size());
        List<TranslationOutcome> again = backTranslator.roundTrip(texts, fromFiles, new HashMap<>());
        assertEquals(out, again);
    }

    @Test
    void aDeadServerIsPausedAfterThreeFailedBatches() throws Exception {
        BackTranslationOptions options = new BackTranslationOptions(BackTranslationOptions.OPENAI, base(),
                "stub-model", null, "eng", "spa", 1, 10_000, 1, 0, Duration.ZERO, Duration.ofSeconds(5), null);
        BackTranslator backTranslator = new BackTranslator(BackTranslator.translatorFor(options), options);
        server.stop(0);
        List<TranslationOutcome> out = backTranslator.roundTrip(List.of("a", "b", "c", "d", "e"), null, new HashMap<>());
        for (TranslationOutcome o : out) {
            assertFalse(o.succeeded());
            assertTrue(o.unavailable());
        }
        assertTrue(out.get(4).failure().contains("paused"), out.get(4).failure());
        assertTrue(out.get(0).failure().contains("is the translation server running"), out.get(0).failure());
    }
}
