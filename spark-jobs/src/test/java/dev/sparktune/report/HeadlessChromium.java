package dev.sparktune.report;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Debian's Chromium, headless, driven over the Chrome DevTools Protocol: a WebSocket on loopback to the browser's one
 * page, JSON commands ({@code Page.navigate}, {@code Runtime.evaluate}, ...) and the events the browser sends back.
 * Started offline: no first-run, sync, component-update or background requests, and a fresh profile.
 */
final class HeadlessChromium implements AutoCloseable {
    /** Where Debian's {@code chromium} package puts the browser. */
    static final Path DEBIAN_CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Duration START = Duration.ofSeconds(60);
    private static final Duration COMMAND = Duration.ofSeconds(60);

    private final Process process;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonObject>> replies = new ConcurrentHashMap<>();
    private final List<JsonObject> events = new CopyOnWriteArrayList<>();

    private HeadlessChromium(Process process, WebSocket.Builder sockets, URI page) {
        this.process = process;
        this.socket = sockets.buildAsync(page, new Listener()).join();
    }

    /**
     * Starts {@code chromium} with the profile folder {@code profile} (created; its {@code chromium.log} holds the
     * browser's output) and connects to its page.
     */
    static HeadlessChromium start(Path chromium, Path profile, int width, int height) throws Exception {
        Files.createDirectories(profile);
        Path log = profile.resolveSibling(profile.getFileName() + "-chromium.log");
        Process process = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--window-size=" + width + "," + height, "--remote-debugging-port=0",
                "--user-data-dir=" + profile, "about:blank")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            URI page = pageSocket(http, profile.resolve("DevToolsActivePort"), process, log);
            return new HeadlessChromium(process, http.newWebSocketBuilder(), page);
        } catch (Exception e) {
            stop(process, Duration.ZERO);
            throw e;
        }
    }

    /** The page's DevTools WebSocket, once Chromium has written its port (in the profile) and opened the page. */
    private static URI pageSocket(HttpClient http, Path portFile, Process process, Path log) throws Exception {
        long deadline = System.nanoTime() + START.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("chromium exited with " + process.exitValue() + "; its output: "
                        + Files.readString(log));
            }
            List<String> lines = Files.exists(portFile) ? Files.readAllLines(portFile) : List.of();
            if (!lines.isEmpty() && !lines.get(0).isBlank()) {
                HttpResponse<String> targets = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + lines.get(0).trim() + "/json/list")).build(),
                        HttpResponse.BodyHandlers.ofString());
                for (JsonElement target : JsonParser.parseString(targets.body()).getAsJsonArray()) {
                    JsonObject t = target.getAsJsonObject();
                    if (t.get("type").getAsString().equals("page") && t.get("url").getAsString().equals("about:blank")) {
                        return URI.create(t.get("webSocketDebuggerUrl").getAsString());
                    }
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("chromium opened no page within " + START + "; its output: "
                + Files.readString(log));
    }

    /** Sends one DevTools command and returns its result; a command the browser refuses throws with its error. */
    JsonObject send(String method, JsonObject params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonObject> reply = new CompletableFuture<>();
        replies.put(id, reply);
        JsonObject command = new JsonObject();
        command.addProperty("id", id);
        command.addProperty("method", method);
        command.add("params", params);
        socket.sendText(command.toString(), true).get(COMMAND.toSeconds(), TimeUnit.SECONDS);
        JsonObject answer = reply.get(COMMAND.toSeconds(), TimeUnit.SECONDS);
        if (answer.has("error")) {
            throw new IllegalStateException(method + " failed: " + answer.get("error"));
        }
        return answer.getAsJsonObject("result");
    }

    JsonObject send(String method) throws Exception {
        return send(method, new JsonObject());
    }

    /** The value of a JavaScript expression in the page, as JSON. */
    JsonElement evaluate(String expression) throws Exception {
        JsonObject params = new JsonObject();
        params.addProperty("expression", expression);
        params.addProperty("returnByValue", true);
        JsonObject result = send("Runtime.evaluate", params);
        if (result.has("exceptionDetails")) {
            throw new IllegalStateException(expression + " threw: " + result.get("exceptionDetails"));
        }
        JsonObject value = result.getAsJsonObject("result");
        return value.has("value") ? value.get("value") : null;
    }

    /** Opens {@code url} in the page and waits until it and everything it refers to has loaded. */
    void load(URI url, Duration timeout) throws Exception {
        JsonObject params = new JsonObject();
        params.addProperty("url", url.toString());
        send("Page.navigate", params);
        String loaded = "location.href === " + new JsonPrimitive(url.toString())
                + " && document.readyState === 'complete'";
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!evaluate(loaded).getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(url + " did not finish loading within " + timeout);
            }
            Thread.sleep(50);
        }
    }

    /** The events of {@code method} received so far, each its {@code params}. */
    List<JsonObject> events(String method) {
        List<JsonObject> found = new ArrayList<>();
        for (JsonObject event : events) {
            if (method.equals(event.get("method").getAsString())) {
                found.add(event.getAsJsonObject("params"));
            }
        }
        return found;
    }

    @Override
    public void close() {
        try {
            send("Browser.close");
        } catch (Exception e) {
            // the process is stopped below either way
        }
        socket.abort();
        stop(process, Duration.ofSeconds(10));
    }

    /** Waits up to {@code grace} for the browser to exit, then kills it and the processes it started. */
    private static void stop(Process process, Duration grace) {
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    /** Assembles each text message from its frames; a reply completes its command, anything else is an event. */
    private final class Listener implements WebSocket.Listener {
        private final StringBuilder message = new StringBuilder();

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            message.append(data);
            if (last) {
                JsonObject json = JsonParser.parseString(message.toString()).getAsJsonObject();
                message.setLength(0);
                if (json.has("id")) {
                    CompletableFuture<JsonObject> reply = replies.remove(json.get("id").getAsInt());
                    if (reply != null) {
                        reply.complete(json);
                    }
                } else {
                    events.add(json);
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            replies.values().forEach(r -> r.completeExceptionally(error));
        }
    }
}
