package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.sparktune.serve.OpenAiServer;
import dev.sparktune.serve.ServerSettings;
import java.io.IOException;
import java.io.StringReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed, truncated, oversized and random request bodies (seeded) against a real server: each is answered with a
 * 4xx, never a 5xx or a dropped connection, and afterwards the server still answers a valid request as before.
 */
class ServeFuzzTest {
    private static final List<String> ROUTES = List.of("/v1/completions", "/v1/chat/completions", "/v1/embeddings",
            "/v1/classify");
    private static final List<String> FIELDS = List.of("model", "messages", "prompt", "max_tokens", "temperature",
            "top_p", "n", "stop", "stream", "seed", "max_completion_tokens");
    private static final int MAX_BODY = 64 * 1024;

    @TempDir
    static Path dir;
    private static ServeCommand.Models loaded;
    private static OpenAiServer server;
    private static ServeHttp http;

    @BeforeAll
    static void startServer() throws IOException {
        loaded = ServeCommand.Models.load(ServeCommandTest.writeTinyChatLlama(dir.resolve("tiny-chat-llama")), List.of());
        server = OpenAiServer.start(ServerSettings.loopback(0).withLimits(8, 64, MAX_BODY, 64, Duration.ofMinutes(1)));
        server.ready(loaded.served(), loaded.base().manager());
        http = new ServeHttp(server.uri());
    }

    @AfterAll
    static void stopServer() {
        server.close();
        loaded.close();
    }

    private static JsonObject validChat() {
        JsonObject body = new JsonObject();
        body.addProperty("model", "tiny-chat-llama");
        JsonArray messages = new JsonArray();
        JsonObject user = new JsonObject();
        user.addProperty("role", "user");
        user.addProperty("content", "tell me about spark");
        messages.add(user);
        body.add("messages", messages);
        body.addProperty("prompt", "tell me about spark");
        body.addProperty("max_tokens", 2);
        body.addProperty("temperature", 0);
        body.addProperty("stop", "\n");
        return body;
    }

    private static boolean strictJsonObject(String text) {
        try {
            JsonReader reader = new JsonReader(new StringReader(text));
            reader.setStrictness(Strictness.STRICT);
            boolean object = JsonParser.parseReader(reader).isJsonObject();
            return object && reader.peek() == JsonToken.END_DOCUMENT;
        } catch (RuntimeException | IOException e) {
            return false;
        }
    }

    private static JsonElement randomValue(Random random) {
        return switch (random.nextInt(9)) {
            case 0 -> JsonNull.INSTANCE;
            case 1 -> new JsonPrimitive(random.nextBoolean());
            case 2 -> new JsonPrimitive(random.nextInt());
            case 3 -> new JsonPrimitive(-random.nextDouble() * 1e6);
            case 4 -> new JsonPrimitive(random.nextDouble() * 1e308);
            case 5 -> new JsonPrimitive("\u0000\uffff" + random.nextLong());
            case 6 -> new JsonArray();
            case 7 -> {
                JsonArray a = new JsonArray();
                a.add(random.nextInt(100));
                a.add(JsonNull.INSTANCE);
                yield a;
            }
            default -> new JsonObject();
        };
    }

    @Test
    void everyBadBodyIsA4xxAndTheServerKeepsServing() {
        String valid = validChat().toString();
        String before = ServeHttp.json(http.post("/v1/chat/completions", valid)).getAsJsonArray("choices").get(0)
                .getAsJsonObject().getAsJsonObject("message").get("content").getAsString();
        Random random = new Random(20261204);
        int refused = 0;
        for (int i = 0; i < 400; i++) {
            String route = ROUTES.get(random.nextInt(ROUTES.size()));
            HttpResponse<String> response;
            String what;
            switch (i % 5) {
                case 0 -> {
                    byte[] bytes = new byte[random.nextInt(3000)];
                    random.nextBytes(bytes);
                    what = "random bytes";
                    response = http.postBytes(route, bytes);
                }
                case 1 -> {
                    what = "truncated";
                    response = http.post(route, valid.substring(0, random.nextInt(valid.length())));
                }
                case 2 -> {
                    StringBuilder mangled = new StringBuilder(valid);
                    String noise = "{}[]\",:\\x0 ";
                    for (int k = 0; k < 3; k++) {
                        mangled.setCharAt(random.nextInt(mangled.length()), noise.charAt(random.nextInt(noise.length())));
                    }
                    what = "mangled " + mangled;
                    response = http.postBytes(route, mangled.toString().getBytes(StandardCharsets.UTF_8));
                    if (response.statusCode() == 200 && strictJsonObject(mangled.toString())) {
                        continue;   // the noise landed inside a string value: still a valid request
                    }
                }
                case 3 -> {
                    what = "oversized or deeply nested";
                    String body = random.nextBoolean() ? "{\"prompt\": \"" + "x".repeat(MAX_BODY) + "\"}"
                            : "[".repeat(random.nextInt(20_000) + 300);
                    response = http.post(route, body);
                }
                default -> {
                    JsonObject body = validChat();
                    String field = FIELDS.get(random.nextInt(FIELDS.size()));
                    body.add(field, randomValue(random));
                    what = "field " + body;
                    response = http.post(route, body.toString());
                    if (response.statusCode() == 200) {
                        continue;   // a value that happens to be valid (n: 1, stream: false, ...)
                    }
                }
            }
            int status = response.statusCode();
            assertTrue(status >= 400 && status < 500, what + " on " + route + " got " + status + ": "
                    + response.body());
            assertTrue(ServeHttp.error(response).get("message").getAsString().length() > 0);
            refused++;
        }
        assertTrue(refused > 300, "the premise: most bodies were refused, " + refused);
        String after = ServeHttp.json(http.post("/v1/chat/completions", valid)).getAsJsonArray("choices").get(0)
                .getAsJsonObject().getAsJsonObject("message").get("content").getAsString();
        assertEquals(before, after);
        String metrics = http.get("/metrics").body();
        assertTrue(metrics.contains("status=\"400\""), metrics);
        assertTrue(metrics.lines().noneMatch(l -> l.startsWith("sparktune_requests_total{")
                && l.matches(".*status=\"5\\d\\d\".*")), "no 5xx answers: " + metrics);
    }
}
