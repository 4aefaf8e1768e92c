package dev.sparktune.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** A real HTTP client (java.net.http) for the serve tests, with the few shapes they send and read. */
final class ServeHttp {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private final URI base;

    ServeHttp(URI base) {
        this.base = base;
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET().build());
    }

    HttpResponse<String> post(String path, String body, String... headers) {
        return send(postRequest(path, HttpRequest.BodyPublishers.ofString(body), headers));
    }

    HttpResponse<String> postBytes(String path, byte[] body) {
        return send(postRequest(path, HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    CompletableFuture<HttpResponse<String>> postAsync(String path, String body) {
        return CLIENT.sendAsync(postRequest(path, HttpRequest.BodyPublishers.ofString(body)),
                HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs and returns the body as lines while they arrive, for reading a stream as it is written. */
    HttpResponse<java.util.stream.Stream<String>> postLines(String path, String body, String... headers) {
        try {
            return CLIENT.send(postRequest(path, HttpRequest.BodyPublishers.ofString(body), headers),
                    HttpResponse.BodyHandlers.ofLines());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private HttpRequest postRequest(String path, HttpRequest.BodyPublisher body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofMinutes(2))
                .header("Content-Type", "application/json").POST(body);
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return request.build();
    }

    private static HttpResponse<String> send(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static JsonObject json(HttpResponse<String> response) {
        return JsonParser.parseString(response.body()).getAsJsonObject();
    }

    /** The {@code data:} payloads of a server-sent event stream, in order ({@code [DONE]} included as a string). */
    static List<String> events(String stream) {
        List<String> out = new ArrayList<>();
        for (String block : stream.split("\n\n")) {
            if (block.isBlank()) {
                continue;
            }
            if (!block.startsWith("data: ") || block.contains("\n")) {
                throw new AssertionError("not one data line: '" + block + "'");
            }
            out.add(block.substring("data: ".length()));
        }
        return out;
    }

    /** The error object's fields of an OpenAI error answer. */
    static JsonObject error(HttpResponse<String> response) {
        return json(response).getAsJsonObject("error");
    }
}
