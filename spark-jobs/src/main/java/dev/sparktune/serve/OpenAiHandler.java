package dev.sparktune.serve;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible routes on Jetty's core Handler API: authentication, body limits, JSON parsing and OpenAI's
 * error objects here; the work in {@link GenerationEndpoint} and {@link EncoderEndpoint}. Until the models are loaded
 * every {@code /v1} request gets 503, and so does every request once shutdown has begun.
 */
final class OpenAiHandler extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiHandler.class);
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();
    private static final String RETRY_AFTER_SECONDS = "1";
    private static final long DRAIN_FACTOR = 8;
    /** Each route and the one method it answers. */
    private static final Map<String, String> ROUTES = Map.of(
            "/health", "GET", "/metrics", "GET", "/v1/models", "GET", "/v1/completions", "POST",
            "/v1/chat/completions", "POST", "/v1/embeddings", "POST", "/v1/classify", "POST");
    private static final Set<String> OPEN_ROUTES = Set.of("/health", "/metrics");

    private final ServerSettings settings;
    private final ServerMetrics metrics;
    private final GenerationEndpoint generation;
    private final byte[] keyDigest;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile ModelRegistry models;
    private volatile boolean draining;

    OpenAiHandler(ServerSettings settings, ServerMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
        this.generation = new GenerationEndpoint(settings, metrics);
        this.keyDigest = settings.apiKey() == null ? null : sha256(settings.apiKey());
    }

    void ready(ModelRegistry registry) {
        this.models = registry;
    }

    /** From now on every request gets 503; those in flight finish. */
    void drain() {
        draining = true;
    }

    int inFlight() {
        return inFlight.get();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        long start = System.nanoTime();
        String path = Request.getPathInContext(request);
        String endpoint = ROUTES.containsKey(path) ? path : "other";
        JettyExchange exchange = new JettyExchange(response);
        inFlight.incrementAndGet();
        try {
            route(request, path, exchange);
        } catch (ApiError e) {
            exchange.fail(e);
        } catch (IOException e) {
            // the client went away; nothing more can be sent
            exchange.status = 499;
            LOG.debug("{} {}: client gone: {}", request.getMethod(), path, e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("{} {} failed", request.getMethod(), path, e);
            exchange.fail(new ApiError(500, "server_error", null, null, "internal error: " + e.getMessage()));
        } finally {
            inFlight.decrementAndGet();
            metrics.request(endpoint, exchange.status, (System.nanoTime() - start) / 1e9);
        }
        if (exchange.broken == null) {
            callback.succeeded();
        } else {
            callback.failed(exchange.broken);
        }
        return true;
    }

    private void route(Request request, String path, JettyExchange exchange) throws IOException {
        String method = ROUTES.get(path);
        if (method == null) {
            throw new ApiError(404, "invalid_request_error", null, "not_found", "no route " + path
                    + "; this server answers " + String.join(", ", ROUTES.keySet()));
        }
        if (!method.equals(request.getMethod())) {
            exchange.allow = method;
            throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", path + " takes " + method
                    + ", not " + request.getMethod());
        }
        if (draining) {
            throw new ApiError(503, "service_unavailable", null, "shutting_down", "the server is shutting down");
        }
        if (path.equals("/health")) {
            JsonObject health = new JsonObject();
            health.addProperty("status", models == null ? "loading" : "ok");
            if (models == null) {
                exchange.send(503, "application/json", GSON.toJson(health));
            } else {
                exchange.json(health);
            }
            return;
        }
        if (path.equals("/metrics")) {
            exchange.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition());
            return;
        }
        if (!OPEN_ROUTES.contains(path)) {
            authenticate(request);
        }
        ModelRegistry registry = models;
        if (registry == null) {
            throw new ApiError(503, "service_unavailable", null, "model_loading", "the model is still loading;"
                    + " retry when GET /health answers 200");
        }
        if (path.equals("/v1/models")) {
            exchange.json(registry.json());
            return;
        }
        RequestFields body = new RequestFields(body(request));
        ServedModel model = registry.resolve(body.string("model", null));
        switch (path) {
            case "/v1/completions" -> generation.completions(model, registry.batcher(model, path), body, exchange);
            case "/v1/chat/completions" -> generation.chat(model, registry.batcher(model, path), body, exchange);
            case "/v1/embeddings" -> registry.encoder(model, path).embeddings(body, exchange);
            case "/v1/classify" -> registry.encoder(model, path).classify(body, exchange);
            default -> throw new IllegalStateException("unrouted " + path);
        }
    }

    /** A bearer key compared in constant time: digests of equal length, compared by {@link MessageDigest#isEqual}. */
    private void authenticate(Request request) {
        if (keyDigest == null) {
            return;
        }
        String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "this server needs an API key:"
                    + " send the header 'Authorization: Bearer <key>'");
        }
        if (!MessageDigest.isEqual(keyDigest, sha256(header.substring(7).trim()))) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "incorrect API key provided");
        }
    }

    /** The request's JSON object; at most {@code maxBodyBytes} are read (413 beyond), strict JSON only (400). */
    private JsonObject body(Request request) throws IOException {
        long limit = settings.maxBodyBytes();
        long declared = request.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
        byte[] bytes;
        try (InputStream in = Request.asInputStream(request)) {
            if (declared > limit) {
                throw tooLarge(limit, in);
            }
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (bytes.length > limit) {
                throw tooLarge(limit, in);
            }
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            JsonElement json = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new IllegalArgumentException("text after the JSON value");
            }
            if (!json.isJsonObject()) {
                throw ApiError.badRequest("the request body must be a JSON object, got " + kind(json));
            }
            return json.getAsJsonObject();
        } catch (ApiError e) {
            throw e;
        } catch (RuntimeException | IOException | StackOverflowError e) {
            // Gson's messages go on with a link to its troubleshooting page: the first line says where the JSON broke
            String reason = e.getMessage() == null ? e.getClass().getSimpleName()
                    : e.getMessage().lines().findFirst().orElse("");
            throw ApiError.badRequest("the request body is not valid JSON: " + reason);
        }
    }

    private static String kind(JsonElement json) {
        return json.isJsonArray() ? "an array" : json.isJsonNull() ? "null" : "the value " + RequestFields.shown(json);
    }

    /**
     * The 413 for a body over {@code limit}. A client still sending cannot read an answer, so a moderate excess is read
     * and dropped first; beyond {@link #DRAIN_FACTOR} times the limit the connection is closed instead.
     */
    private static ApiError tooLarge(long limit, InputStream rest) throws IOException {
        long budget = DRAIN_FACTOR * limit;
        while (budget > 0) {
            long skipped = rest.skip(budget);
            if (skipped <= 0 && rest.read() < 0) {
                break;
            }
            budget -= Math.max(skipped, 1);
        }
        return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body is larger"
                + " than " + limit + " bytes");
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** An {@link Exchange} over a Jetty response; writes block until sent. */
    private static final class JettyExchange implements Exchange {
        private final Response response;
        int status = 200;
        boolean started;
        String allow;
        Throwable broken;

        JettyExchange(Response response) {
            this.response = response;
        }

        @Override
        public void json(JsonObject body) throws IOException {
            send(200, "application/json", GSON.toJson(body));
        }

        void send(int code, String contentType, String body) throws IOException {
            status = code;
            started = true;
            response.setStatus(code);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
            write(true, body);
        }

        @Override
        public void startEvents() throws IOException {
            started = true;
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
            write(false, "");
        }

        @Override
        public void event(JsonObject data) throws IOException {
            write(false, "data: " + GSON.toJson(data) + "\n\n");
        }

        @Override
        public void done() throws IOException {
            write(true, "data: [DONE]\n\n");
        }

        /** Answers with OpenAI's error object, unless the answer has already begun. */
        void fail(ApiError e) {
            status = e.status;
            if (started) {
                return;
            }
            try {
                if (e.status == 429) {
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, RETRY_AFTER_SECONDS);
                }
                if (e.status == 401) {
                    response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                }
                if (allow != null) {
                    response.getHeaders().put(HttpHeader.ALLOW, allow);
                }
                send(e.status, "application/json", GSON.toJson(e.toJson()));
            } catch (IOException io) {
                broken = io;
            }
        }

        private void write(boolean last, String text) throws IOException {
            try {
                Content.Sink.write(response, last, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                broken = e;
                throw e;
            }
        }
    }
}
