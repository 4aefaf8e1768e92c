package dev.sparktune.serve;

import java.time.Duration;

/**
 * How the server listens and what it accepts.
 *
 * @param host            the address to bind; loopback unless the operator chooses otherwise
 * @param port            the port; 0 picks a free one
 * @param apiKey          the bearer key clients must send, or null for none
 * @param maxBatch        the most sequences one forward pass carries
 * @param maxQueue        the most sequences waiting to join a batch, per model; beyond it requests get 429
 * @param maxBodyBytes    larger request bodies get 413
 * @param maxTokens       the largest {@code max_tokens} a request may ask for
 * @param maxChoices      the largest {@code n} (and number of prompts or inputs) in one request
 * @param requestTimeout  a request still unanswered after this is cancelled
 * @param shutdownGrace   how long shutdown waits for requests in flight
 */
public record ServerSettings(String host, int port, String apiKey, int maxBatch, int maxQueue, long maxBodyBytes,
                             int maxTokens, int maxChoices, Duration requestTimeout, Duration shutdownGrace) {

    public ServerSettings {
        positive("max batch", maxBatch);
        positive("max queue", maxQueue);
        positive("max body bytes", maxBodyBytes);
        positive("max tokens", maxTokens);
        positive("max choices", maxChoices);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0 to 65535, got " + port);
        }
        if (apiKey != null && apiKey.isEmpty()) {
            throw new IllegalArgumentException("the API key is empty");
        }
    }

    /** Loopback, a free port, no key, and the defaults of {@code sparktune serve}. */
    public static ServerSettings loopback(int port) {
        return new ServerSettings("127.0.0.1", port, null, 32, 256, 1 << 20, 2048, 16, Duration.ofMinutes(10),
                Duration.ofSeconds(30));
    }

    public ServerSettings withApiKey(String key) {
        return new ServerSettings(host, port, key, maxBatch, maxQueue, maxBodyBytes, maxTokens, maxChoices,
                requestTimeout, shutdownGrace);
    }

    public ServerSettings withLimits(int batch, int queue, long bodyBytes, int tokens, Duration timeout) {
        return new ServerSettings(host, port, apiKey, batch, queue, bodyBytes, tokens, maxChoices, timeout,
                shutdownGrace);
    }

    private static void positive(String what, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(what + " must be at least 1, got " + value);
        }
    }
}
