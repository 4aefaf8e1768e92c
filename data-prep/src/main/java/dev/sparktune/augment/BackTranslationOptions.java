package dev.sparktune.augment;

import java.io.Serializable;
import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;

/**
 * How back-translation reaches its translator and how hard it tries.
 *
 * @param translator     {@code apertium} (an Apertium APY server) or {@code openai} (any OpenAI-compatible
 *                       {@code /v1/chat/completions} endpoint)
 * @param endpoint       the server's base URL, e.g. {@code http://127.0.0.1:2737} or {@code http://host:8000/v1}
 * @param model          the chat model ({@code openai} only; null for Apertium)
 * @param apiKeyEnv      name of the environment variable holding a bearer token on the executors, or null
 * @param sourceLanguage the rows' language as an ISO 639-3 code, e.g. {@code eng}
 * @param pivotLanguage  the language translated to and back from, e.g. {@code spa}
 * @param batchSize      texts per request
 * @param maxBatchChars  characters per request (a longer text goes alone)
 * @param concurrency    requests in flight at once per executor JVM
 * @param maxRetries     retries after a connection error, a timeout, HTTP 429 or 5xx
 * @param initialBackoff wait before the first retry; doubled for each further one (a Retry-After header wins)
 * @param timeout        limit for one request
 * @param cachePath      a folder on any Hadoop file system (best: beside the output) where translations are kept
 *                       by content hash so a rerun never retranslates; null keeps no cache
 */
public record BackTranslationOptions(String translator, URI endpoint, String model, String apiKeyEnv,
        String sourceLanguage, String pivotLanguage, int batchSize, int maxBatchChars, int concurrency,
        int maxRetries, Duration initialBackoff, Duration timeout, String cachePath) implements Serializable {

    public static final String APERTIUM = "apertium";
    public static final String OPENAI = "openai";

    public BackTranslationOptions {
        if (!Set.of(APERTIUM, OPENAI).contains(translator)) {
            throw new IllegalArgumentException("back-translation translator must be '" + APERTIUM + "' or '"
                    + OPENAI + "', got '" + translator + "'");
        }
        if (endpoint == null || endpoint.getScheme() == null || !endpoint.getScheme().toLowerCase(Locale.ROOT).startsWith("http")) {
            throw new IllegalArgumentException("back-translation endpoint must be an http(s) URL, got " + endpoint);
        }
        if (OPENAI.equals(translator) && (model == null || model.isBlank())) {
            throw new IllegalArgumentException("back-translation with translator 'openai' needs a model name");
        }
        if (sourceLanguage == null || pivotLanguage == null || sourceLanguage.equals(pivotLanguage)) {
            throw new IllegalArgumentException("back-translation needs two different languages, got source "
                    + sourceLanguage + " and pivot " + pivotLanguage);
        }
        positive("batch size", batchSize);
        positive("max batch chars", maxBatchChars);
        positive("concurrency", concurrency);
        if (maxRetries < 0) {
            throw new IllegalArgumentException("back-translation max retries must be 0 or more, got " + maxRetries);
        }
        if (initialBackoff.isNegative() || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("back-translation backoff must be >= 0 and timeout > 0, got "
                    + initialBackoff + " and " + timeout);
        }
    }

    /** Apertium APY at {@code endpoint}, English through Spanish, with the defaults the tests and docs use. */
    public static BackTranslationOptions apertium(URI endpoint, String cachePath) {
        return new BackTranslationOptions(APERTIUM, endpoint, null, null, "eng", "spa", 16, 8000, 4, 3,
                Duration.ofMillis(200), Duration.ofSeconds(30), cachePath);
    }

    public BackTranslationOptions withRetries(int retries, Duration backoff, Duration requestTimeout) {
        return new BackTranslationOptions(translator, endpoint, model, apiKeyEnv, sourceLanguage, pivotLanguage,
                batchSize, maxBatchChars, concurrency, retries, backoff, requestTimeout, cachePath);
    }

    public BackTranslationOptions withBatching(int size, int inFlight) {
        return new BackTranslationOptions(translator, endpoint, model, apiKeyEnv, sourceLanguage, pivotLanguage,
                size, maxBatchChars, inFlight, maxRetries, initialBackoff, timeout, cachePath);
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException("back-translation " + name + " must be at least 1, got " + value);
        }
    }
}
