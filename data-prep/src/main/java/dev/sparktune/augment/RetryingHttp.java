package dev.sparktune.augment;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Optional;

/**
 * Sends one HTTP request with a per-request timeout, retrying with exponential backoff after a connection error,
 * a timeout, HTTP 429 or 5xx (a {@code Retry-After} header in seconds replaces the computed wait). Other statuses
 * are not retried: the request itself is wrong.
 */
public final class RetryingHttp {
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final HttpClient client;
    private final int maxRetries;
    private final Duration initialBackoff;
    private final Duration timeout;

    public RetryingHttp(int maxRetries, Duration initialBackoff, Duration timeout) {
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .build();
        this.maxRetries = maxRetries;
        this.initialBackoff = initialBackoff;
        this.timeout = timeout;
    }

    /** The body of a 2xx answer to the request. */
    public String send(HttpRequest.Builder request, String what) throws TranslationException {
        HttpRequest built = request.timeout(timeout).build();
        URI uri = built.uri();
        String lastProblem = "";
        for (int attempt = 0; ; attempt++) {
            Duration wait = backoff(attempt);
            try {
                HttpResponse<String> response = client.send(built, HttpResponse.BodyHandlers.ofString());
                int status = response.statusCode();
                if (status / 100 == 2) {
                    return response.body();
                }
                lastProblem = "HTTP " + status + ": " + abbreviate(response.body());
                if (status != 429 && status / 100 != 5) {
                    throw new TranslationException(what + " at " + uri + " was refused with " + lastProblem
                            + "; check the translator settings (language pair, model, API key)", false);
                }
                wait = retryAfter(response).orElse(wait);
            } catch (HttpTimeoutException e) {
                lastProblem = "no answer within " + timeout.toMillis() + " ms";
            } catch (IOException e) {
                lastProblem = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TranslationException(what + " at " + uri + " was interrupted", true, e);
            }
            if (attempt >= maxRetries) {
                throw new TranslationException(what + " at " + uri + " failed after " + (attempt + 1)
                        + " attempts, last: " + lastProblem + "; is the translation server running and reachable?",
                        true);
            }
            try {
                Thread.sleep(wait.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TranslationException(what + " at " + uri + " was interrupted", true, e);
            }
        }
    }

    private Duration backoff(int attempt) {
        Duration wait = initialBackoff.multipliedBy(1L << Math.min(attempt, 20));
        return wait.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : wait;
    }

    private static Optional<Duration> retryAfter(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After").flatMap(value -> {
            try {
                long seconds = Long.parseLong(value.trim());
                return Optional.of(Duration.ofSeconds(Math.min(Math.max(seconds, 0), MAX_BACKOFF.toSeconds())));
            } catch (NumberFormatException httpDate) {
                return Optional.empty();
            }
        });
    }

    private static String abbreviate(String body) {
        String oneLine = body == null ? "" : body.replaceAll("\\s+", " ").trim();
        return oneLine.length() > 200 ? oneLine.substring(0, 200) + "..." : oneLine;
    }
}
