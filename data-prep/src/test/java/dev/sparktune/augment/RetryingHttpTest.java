package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The translation client against a real HTTP server in this JVM that misbehaves on purpose: headers then silence, a
 * body trickled a byte at a time, a body too big, error bodies that are huge or echo the API key. Each finding of
 * issue 19 about the client has a test here.
 */
class RetryingHttpTest {
    private static final String KEY = "sk-test-7f3a9c1e5b2d4f60a8c3e1b9d7f5a2c4";

    private HttpServer server;
    private ExecutorService handlers;
    private final AtomicInteger requests = new AtomicInteger();
    private final CountDownLatch release = new CountDownLatch(1);

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        handlers = Executors.newCachedThreadPool();
        server.setExecutor(handlers);
        server.start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        release.countDown();
        server.stop(0);
        handlers.shutdownNow();
        handlers.awaitTermination(10, TimeUnit.SECONDS);
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    private static HttpRequest.Builder get(URI uri) {
        return HttpRequest.newBuilder(uri).GET();
    }

    @Test
    void aServerThatSendsHeadersAndStallsIsGivenUpOnWithinTheTimeout() {
        server.createContext("/stall", exchange -> {
            requests.incrementAndGet();
            exchange.sendResponseHeaders(200, 0);           // chunked: headers now, the body never ends
            OutputStream out = exchange.getResponseBody();
            out.write("{\"responseData\":".getBytes(StandardCharsets.UTF_8));
            out.flush();
            awaitRelease();
            exchange.close();
        });
        RetryingHttp http = new RetryingHttp(1, Duration.ofMillis(10), Duration.ofMillis(500));
        TranslationException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(TranslationException.class, () -> http.send(get(url("/stall")), "stall test")));
        assertTrue(e.unavailable());
        assertTrue(e.getMessage().contains("no answer within 500 ms"), e.getMessage());
        assertEquals(2, requests.get(), "one attempt and one retry");
    }

    @Test
    void aBodyTrickledAByteAtATimeIsGivenUpOnWithinTheTimeout() {
        server.createContext("/trickle", exchange -> {
            requests.incrementAndGet();
            exchange.sendResponseHeaders(200, 0);
            try (OutputStream out = exchange.getResponseBody()) {
                for (int i = 0; i < 100 && release.getCount() > 0; i++) {
                    out.write('x');
                    out.flush();                            // never silent long enough for a per-read timeout
                    Thread.sleep(100);
                }
            } catch (IOException | InterruptedException clientGone) {
                // the client gave up, as it should
            }
        });
        RetryingHttp http = new RetryingHttp(0, Duration.ZERO, Duration.ofMillis(800));
        long start = System.nanoTime();
        TranslationException e = assertTimeoutPreemptively(Duration.ofSeconds(8),
                () -> assertThrows(TranslationException.class, () -> http.send(get(url("/trickle")), "trickle test")));
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(e.unavailable());
        assertTrue(seconds < 4, "gave up after " + seconds + " s with a 0.8 s timeout");
    }

    @Test
    void aBodyOverTheCapIsAnErrorAndIsNotRetried() {
        byte[] huge = new byte[RetryingHttp.MAX_BODY_BYTES + (1 << 20)];
        java.util.Arrays.fill(huge, (byte) 'a');
        server.createContext("/huge", exchange -> {
            requests.incrementAndGet();
            respond(exchange, 200, huge);
        });
        RetryingHttp http = new RetryingHttp(2, Duration.ofMillis(10), Duration.ofSeconds(20));
        TranslationException e = assertThrows(TranslationException.class, () -> http.send(get(url("/huge")), "huge test"));
        assertFalse(e.unavailable(), "the server answered, with something that is not a translation");
        assertTrue(e.getMessage().contains("more than " + RetryingHttp.MAX_BODY_BYTES + " bytes"), e.getMessage());
        assertEquals(1, requests.get());
    }

    @Test
    void aBodyUnderTheCapStillArrivesWhole() throws Exception {
        String text = "é".repeat(300_000);               // 600 kB of two-byte characters, over many buffers
        server.createContext("/big", exchange -> respond(exchange, 200,
                ("{\"responseData\":{\"translatedText\":\"" + text + "\"}}").getBytes(StandardCharsets.UTF_8)));
        String body = new RetryingHttp(0, Duration.ZERO, Duration.ofSeconds(20)).send(get(url("/big")), "big test");
        assertEquals("{\"responseData\":{\"translatedText\":\"" + text + "\"}}", body);
    }

    @Test
    void bodiesInMessagesAreCutTo200Characters() {
        String junk = "<html>" + "not json at all ".repeat(20_000) + "</html>";
        server.createContext("/translate", exchange -> respond(exchange, 200, junk.getBytes(StandardCharsets.UTF_8)));
        server.createContext("/v1/chat/completions", exchange -> respond(exchange, 200,
                ("{\"unexpected\":\"" + "x".repeat(100_000) + "\"}").getBytes(StandardCharsets.UTF_8)));
        RetryingHttp http = new RetryingHttp(0, Duration.ZERO, Duration.ofSeconds(10));
        TranslationException apertium = assertThrows(TranslationException.class,
                () -> new ApertiumTranslator(url("/"), http).translate("eng", "spa", List.of("hello")));
        TranslationException chat = assertThrows(TranslationException.class,
                () -> new OpenAiChatTranslator(url("/v1"), "m", null, http).translate("eng", "spa", List.of("hello")));
        for (TranslationException e : List.of(apertium, chat)) {
            assertFalse(e.unavailable());
            String m = e.getMessage();
            assertTrue(m.length() < 200 + 300, m.length() + " characters: " + m.substring(0, Math.min(400, m.length())));
        }
    }

    @Test
    void retriesWaitBetweenHalfAndAllOfTheBackoffAtRandom() {
        RetryingHttp http = new RetryingHttp(5, Duration.ofMillis(100), Duration.ofSeconds(1));
        for (int attempt = 0; attempt < 12; attempt++) {
            long full = Math.min(100L << attempt, RetryingHttp.MAX_BACKOFF.toMillis());
            Set<Long> seen = new HashSet<>();
            for (int i = 0; i < 50; i++) {
                long wait = http.backoff(attempt).toMillis();
                assertTrue(wait >= full / 2 && wait <= full, "attempt " + attempt + ": " + wait + " ms of " + full);
                seen.add(wait);
            }
            assertTrue(seen.size() > 10, "attempt " + attempt + ": executors would retry in step: " + seen);
        }
        RetryingHttp low = new RetryingHttp(5, Duration.ofMillis(100), Duration.ofSeconds(1), 1 << 20, () -> 0.0);
        RetryingHttp high = new RetryingHttp(5, Duration.ofMillis(100), Duration.ofSeconds(1), 1 << 20, () -> 0.999999);
        assertEquals(Duration.ofMillis(200), low.backoff(2));
        assertEquals(400, high.backoff(2).toMillis(), 1);
    }

    @Test
    void theApiKeyIsNeverInAMessageOrALogLineEvenWhenTheServerEchoesIt() throws Exception {
        List<String> seenAuth = new ArrayList<>();
        server.createContext("/v1/chat/completions", exchange -> {
            int n = requests.incrementAndGet();
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            synchronized (seenAuth) {
                seenAuth.add(auth);
            }
            exchange.getResponseHeaders().add("Retry-After", "0");
            // a careless proxy quoting the request back: first a 503 (retried, logged), then a 401 (the error)
            respond(exchange, n == 1 ? 503 : 401, ("{\"error\":\"rejected header Authorization: " + auth
                    + " for this route\"}").getBytes(StandardCharsets.UTF_8));
        });
        StringWriter logs = new StringWriter();
        TranslationOutcome outcome;
        try (LogCapture ignored = new LogCapture(logs)) {
            BackTranslationOptions options = new BackTranslationOptions(BackTranslationOptions.OPENAI, url("/v1"), "m",
                    null, "eng", "spa", 4, 8000, 1, 2, Duration.ofMillis(10), Duration.ofSeconds(5), null);
            OpenAiChatTranslator translator = new OpenAiChatTranslator(url("/v1"), "m", KEY,
                    new RetryingHttp(2, Duration.ofMillis(10), Duration.ofSeconds(5)));
            outcome = new BackTranslator(translator, options).roundTrip(List.of("hello"), null, new HashMap<>()).get(0);
        }
        assertEquals(List.of("Bearer " + KEY, "Bearer " + KEY), seenAuth, "the key was sent, and echoed back twice");
        assertFalse(outcome.succeeded());
        String captured = logs.toString();
        for (String text : List.of(captured, outcome.failure())) {
            assertFalse(text.contains(KEY), "the API key leaked: " + text);
            assertFalse(text.contains(KEY.substring(0, 12)), "part of the API key leaked: " + text);
        }
        assertTrue(captured.contains("HTTP 503"), "the retry was logged: " + captured);
        assertTrue(outcome.failure().contains("HTTP 401") && outcome.failure().contains("[redacted]"), outcome.failure());
    }

    @Test
    void aBatchThatNeverEndsIsCancelledAfterItsLimitInsteadOfHangingTheTask() {
        CountDownLatch entered = new CountDownLatch(1);
        Translator hangs = new Translator() {
            @Override
            public String id() {
                return "hangs";
            }

            @Override
            public List<String> translate(String source, String target, List<String> texts) {
                entered.countDown();
                try {
                    Thread.sleep(Long.MAX_VALUE);           // a translator stuck somewhere no timeout reaches
                } catch (InterruptedException cancelled) {
                    Thread.currentThread().interrupt();
                }
                return texts;
            }
        };
        BackTranslationOptions options = new BackTranslationOptions(BackTranslationOptions.OPENAI, url("/v1"), "m",
                null, "eng", "spa", 1, 8000, 1, 0, Duration.ZERO, Duration.ofMillis(100), null);
        BackTranslator backTranslator = new BackTranslator(hangs, options);
        Duration limit = backTranslator.batchLimit(1);
        List<TranslationOutcome> out = assertTimeoutPreemptively(limit.plusSeconds(10),
                () -> backTranslator.roundTrip(List.of("hello"), null, new HashMap<>()));
        assertEquals(0, entered.getCount());
        assertFalse(out.get(0).succeeded());
        assertTrue(out.get(0).unavailable());
        assertTrue(out.get(0).failure().contains("did not finish a batch"), out.get(0).failure());
    }

    private void awaitRelease() {
        try {
            release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void respond(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        } catch (IOException clientGone) {
            // the client stopped reading: what a body cap does
        }
    }

    /** Every log event of every logger, at every level, written to {@code sink} while open. */
    private static final class LogCapture implements AutoCloseable {
        private final LoggerContext context = (LoggerContext) LogManager.getContext(false);
        private final LoggerConfig root = context.getConfiguration().getRootLogger();
        private final Level before = root.getLevel();
        private final WriterAppender appender;

        LogCapture(StringWriter sink) {
            appender = WriterAppender.newBuilder().setName("issue19-capture").setTarget(new PrintWriter(sink, true))
                    .setLayout(PatternLayout.newBuilder().withPattern("%p %c %m%n%throwable").build()).build();
            appender.start();
            root.addAppender(appender, Level.ALL, null);
            root.setLevel(Level.ALL);
            context.updateLoggers();
        }

        @Override
        public void close() {
            root.removeAppender(appender.getName());
            root.setLevel(before);
            context.updateLoggers();
            appender.stop();
        }
    }
}
