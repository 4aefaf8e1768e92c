package dev.sparktune.augment;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.DoubleSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one HTTP request, retrying with exponential backoff after a connection error, a timeout, HTTP 429 or 5xx (a
 * {@code Retry-After} header in seconds replaces the computed wait). Other statuses are not retried: the request
 * itself is wrong.
 *
 * <p>Every attempt ends within {@code timeout}, body included: a server that sends its headers and then stalls, or
 * trickles its body, is given up on like one that never answers. A successful answer's body may hold at most
 * {@value #MAX_BODY_BYTES} bytes (more is an error, not retried); of an error answer only the start is read. Waits
 * between attempts are drawn between half and all of the backoff (jitter), so executors that failed together do not
 * retry together. Messages quote at most {@value #EXCERPT_CHARS} characters of a body, with the secret the caller
 * names (an API key) blotted out.
 */
public final class RetryingHttp {
    private static final Logger LOG = LoggerFactory.getLogger(RetryingHttp.class);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
    static final int MAX_BODY_BYTES = 8 << 20;
    /** Bytes read of an error answer's body, enough for its message. */
    private static final int ERROR_BODY_BYTES = 16 << 10;
    static final int EXCERPT_CHARS = 200;
    private static final Pattern CHARSET = Pattern.compile("(?i)charset=\"?([^\";\\s]+)");

    private final HttpClient client;
    private final int maxRetries;
    private final Duration initialBackoff;
    private final Duration timeout;
    private final int maxBodyBytes;
    private final DoubleSupplier random;

    public RetryingHttp(int maxRetries, Duration initialBackoff, Duration timeout) {
        this(maxRetries, initialBackoff, timeout, MAX_BODY_BYTES, () -> ThreadLocalRandom.current().nextDouble());
    }

    /** With another body limit and source of jitter ({@code random} in [0, 1)), for tests. */
    RetryingHttp(int maxRetries, Duration initialBackoff, Duration timeout, int maxBodyBytes, DoubleSupplier random) {
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .build();
        this.maxRetries = maxRetries;
        this.initialBackoff = initialBackoff;
        this.timeout = timeout;
        this.maxBodyBytes = maxBodyBytes;
        this.random = random;
    }

    /**
     * The longest {@link #send} can take with these settings: every attempt's timeout and the longest wait between
     * attempts.
     */
    static Duration worstCase(int maxRetries, Duration timeout) {
        return timeout.multipliedBy(maxRetries + 1L).plus(MAX_BACKOFF.multipliedBy(maxRetries));
    }

    /** The body of a 2xx answer to the request. */
    public String send(HttpRequest.Builder request, String what) throws TranslationException {
        return send(request, what, null);
    }

    /**
     * The body of a 2xx answer to the request; {@code secret} (may be null), such as the API key the request carries,
     * never appears in a message or a log line, even when the server echoes it back.
     */
    public String send(HttpRequest.Builder request, String what, String secret) throws TranslationException {
        HttpRequest built = request.timeout(timeout).build();
        URI uri = built.uri();
        String lastProblem = "";
        for (int attempt = 0; ; attempt++) {
            Duration wait = backoff(attempt);
            CompletableFuture<HttpResponse<String>> pending = client.sendAsync(built, this::bodyFor);
            try {
                HttpResponse<String> response = pending.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                int status = response.statusCode();
                if (status / 100 == 2) {
                    return response.body();
                }
                lastProblem = "HTTP " + status + ": " + excerpt(response.body(), secret);
                if (status != 429 && status / 100 != 5) {
                    throw new TranslationException(what + " at " + uri + " was refused with " + lastProblem
                            + "; check the translator settings (language pair, model, API key)", false);
                }
                wait = retryAfter(response).orElse(wait);
            } catch (TimeoutException e) {
                pending.cancel(true);       // closes the connection of a stalled body
                lastProblem = "no answer within " + timeout.toMillis() + " ms (headers and body)";
            } catch (ExecutionException e) {
                BodyTooLarge tooLarge = causeOf(e, BodyTooLarge.class);
                if (tooLarge != null) {
                    throw new TranslationException(what + " at " + uri + " answered with more than " + maxBodyBytes
                            + " bytes; is that the translation server?", false);
                }
                if (causeOf(e, HttpTimeoutException.class) != null) {
                    lastProblem = "no answer within " + timeout.toMillis() + " ms (headers and body)";
                } else {
                    Throwable cause = e.getCause();
                    lastProblem = cause.getClass().getSimpleName()
                            + (cause.getMessage() == null ? "" : ": " + excerpt(cause.getMessage(), secret));
                }
            } catch (InterruptedException e) {
                pending.cancel(true);
                Thread.currentThread().interrupt();
                throw new TranslationException(what + " at " + uri + " was interrupted", true, e);
            }
            if (attempt >= maxRetries) {
                throw new TranslationException(what + " at " + uri + " failed after " + (attempt + 1)
                        + " attempts, last: " + lastProblem + "; is the translation server running and reachable?",
                        true);
            }
            LOG.info("{} at {} failed ({}); retry {} of {} in {} ms", what, uri, lastProblem, attempt + 1, maxRetries,
                    wait.toMillis());
            try {
                Thread.sleep(wait.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TranslationException(what + " at " + uri + " was interrupted", true, e);
            }
        }
    }

    /**
     * The wait before retry {@code attempt + 1}: the initial backoff doubled per attempt, at most
     * {@link #MAX_BACKOFF}, of which a random part between half and all is taken ("equal jitter").
     */
    Duration backoff(int attempt) {
        Duration full = initialBackoff.multipliedBy(1L << Math.min(attempt, 20));
        if (full.compareTo(MAX_BACKOFF) > 0) {
            full = MAX_BACKOFF;
        }
        long nanos = full.toNanos();
        return Duration.ofNanos(nanos / 2 + (long) (random.getAsDouble() * (nanos - nanos / 2)));
    }

    /** A {@code Retry-After} in seconds, stretched by up to a fifth at random, at most {@link #MAX_BACKOFF}. */
    private Optional<Duration> retryAfter(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After").flatMap(value -> {
            try {
                long millis = Math.max(Long.parseLong(value.trim()), 0) * 1000;
                long jittered = millis + (long) (random.getAsDouble() * millis / 5);
                return Optional.of(Duration.ofMillis(Math.min(jittered, MAX_BACKOFF.toMillis())));
            } catch (NumberFormatException httpDate) {
                return Optional.empty();
            }
        });
    }

    private HttpResponse.BodySubscriber<String> bodyFor(HttpResponse.ResponseInfo info) {
        boolean ok = info.statusCode() / 100 == 2;
        return new BoundedBody(ok ? maxBodyBytes : ERROR_BODY_BYTES, !ok, charset(info.headers()));
    }

    private static Charset charset(HttpHeaders headers) {
        Matcher m = CHARSET.matcher(headers.firstValue("Content-Type").orElse(""));
        try {
            return m.find() ? Charset.forName(m.group(1)) : StandardCharsets.UTF_8;
        } catch (IllegalArgumentException unknown) {
            return StandardCharsets.UTF_8;
        }
    }

    /**
     * The first {@value #EXCERPT_CHARS} characters of {@code body} on one line, {@code secret} (may be null) replaced
     * before cutting so that no part of it shows.
     */
    static String excerpt(String body, String secret) {
        String oneLine = body == null ? "" : body.replaceAll("\\s+", " ").trim();
        if (secret != null && !secret.isEmpty()) {
            oneLine = oneLine.replace(secret, "[redacted]");
        }
        return oneLine.length() > EXCERPT_CHARS ? oneLine.substring(0, EXCERPT_CHARS) + "..." : oneLine;
    }

    static String excerpt(String body) {
        return excerpt(body, null);
    }

    private static <T extends Throwable> T causeOf(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** A body bigger than allowed; the subscription was cancelled, which closes the connection. */
    private static final class BodyTooLarge extends IOException {
        BodyTooLarge(int limit) {
            super("the body holds more than " + limit + " bytes");
        }
    }

    /**
     * Collects a body of at most {@code limit} bytes, asking for one buffer list at a time. Past the limit it cancels
     * the subscription and either fails ({@link BodyTooLarge}) or, with {@code truncate}, ends with the first
     * {@code limit} bytes.
     */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<String> {
        private final int limit;
        private final boolean truncate;
        private final Charset charset;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CompletableFuture<String> body = new CompletableFuture<>();
        private Flow.Subscription subscription;

        BoundedBody(int limit, boolean truncate, Charset charset) {
            this.limit = limit;
            this.truncate = truncate;
            this.charset = charset;
        }

        @Override
        public CompletionStage<String> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer b : buffers) {
                int room = limit - bytes.size();
                if (b.remaining() > room) {
                    subscription.cancel();
                    if (truncate) {
                        byte[] part = new byte[room];
                        b.get(part);
                        bytes.write(part, 0, room);
                        body.complete(bytes.toString(charset));
                    } else {
                        body.completeExceptionally(new BodyTooLarge(limit));
                    }
                    return;
                }
                byte[] all = new byte[b.remaining()];
                b.get(all);
                bytes.write(all, 0, all.length);
            }
            subscription.request(1);
        }

        @Override
        public void onError(Throwable error) {
            body.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toString(charset));
        }
    }
}
