package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/sparktune serve} as a user starts it: the key from an environment variable, a port the system picks,
 * a completion equal to {@code sparktune generate}'s, and SIGTERM in the middle of a stream, which still ends whole
 * while the process stops.
 */
@Tag("integration")
class ServeLauncherIT {
    private static final Path LAUNCHER = Path.of("..", "bin", "sparktune").toAbsolutePath().normalize();
    private static final Pattern LISTENING = Pattern.compile("serve: listening on (http://\\S+)");

    @TempDir
    static Path dir;

    @Test
    void servesWithAKeyFromTheEnvironmentAndStopsGracefullyOnSigterm() throws Exception {
        Path model = ServeCommandTest.writeTinyChatLlama(dir.resolve("tiny-chat-llama"));
        GenerateCommandTest.Run reference = GenerateCommandTest.sparktune("hello\n", "generate", "--model",
                model.toString(), "--json", "--max-new-tokens", "600");
        String expected = JsonParser.parseString(reference.lines().get(0)).getAsJsonObject().get("completion")
                .getAsString();

        Path stderr = dir.resolve("stderr.txt");
        ProcessBuilder builder = new ProcessBuilder(LAUNCHER.toString(), "serve", "--model", model.toString(),
                "--port", "0", "--api-key-env", "SPARKTUNE_SERVE_KEY").redirectError(stderr.toFile());
        builder.environment().put("SPARKTUNE_SERVE_KEY", "key-from-the-environment");
        Process p = builder.start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = CompletableFuture.supplyAsync(() -> readLine(out)).get(3, TimeUnit.MINUTES);
            Matcher listening = LISTENING.matcher(first == null ? "" : first);
            assertTrue(listening.find(), first + " / " + Files.readString(stderr));
            String ready = CompletableFuture.supplyAsync(() -> readLine(out)).get(3, TimeUnit.MINUTES);
            assertEquals("serve: ready, serving tiny-chat-llama", ready);
            ServeHttp http = new ServeHttp(URI.create(listening.group(1) + "/"));
            String auth = "Bearer key-from-the-environment";

            JsonObject body = new JsonObject();
            body.addProperty("prompt", "hello");
            body.addProperty("max_tokens", 600);
            body.addProperty("temperature", 0);
            assertEquals(401, http.post("/v1/completions", body.toString()).statusCode());
            HttpResponse<String> answer = http.post("/v1/completions", body.toString(), "Authorization", auth);
            assertEquals(200, answer.statusCode(), answer.body());
            assertEquals(expected, ServeHttp.json(answer).getAsJsonArray("choices").get(0).getAsJsonObject()
                    .get("text").getAsString());

            body.addProperty("stream", true);
            HttpResponse<Stream<String>> stream = http.postLines("/v1/completions", body.toString(),
                    "Authorization", auth);
            Iterator<String> lines = stream.body().iterator();
            List<String> received = new ArrayList<>(List.of(lines.next()));
            p.destroy();   // SIGTERM
            lines.forEachRemaining(received::add);

            List<String> events = ServeHttp.events(String.join("\n", received) + "\n");
            assertEquals("[DONE]", events.get(events.size() - 1));
            String text = events.stream().filter(e -> !e.equals("[DONE]"))
                    .map(e -> JsonParser.parseString(e).getAsJsonObject().getAsJsonArray("choices"))
                    .filter(c -> !c.isEmpty()).map(c -> c.get(0).getAsJsonObject().get("text").getAsString())
                    .collect(Collectors.joining());
            assertEquals(expected, text, "the stream in flight at SIGTERM ends whole");
            assertTrue(p.waitFor(1, TimeUnit.MINUTES), "the server did not stop after SIGTERM");
            String err = Files.readString(stderr);
            assertTrue(err.contains("serve: stopped"), err);
            assertFalse(err.contains("SparkContext"), "serve starts no Spark: " + err);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String readLine(BufferedReader in) {
        try {
            return in.readLine();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
