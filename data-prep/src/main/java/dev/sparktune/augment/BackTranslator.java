package dev.sparktune.augment;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Back-translation (source → pivot → source) of many texts at once: distinct texts only, the cache first, the rest
 * in batches of {@code batchSize} texts / {@code maxBatchChars} characters sent by a pool of {@code concurrency}
 * threads that all tasks of one executor JVM share, so the server sees at most that many requests per executor.
 *
 * <p>A server that fails {@value #FAILURES_TO_PAUSE} batches in a row is not asked again for
 * {@link #PAUSE} (batches fail at once as unavailable), so a dead server costs seconds, not timeouts per row.
 * Every request ends within the timeout ({@link RetryingHttp}); as a backstop, a batch still running
 * {@link #batchLimit} after it started is cancelled and its texts fail as unavailable, so no task waits for ever.
 */
public final class BackTranslator {
    static final int FAILURES_TO_PAUSE = 3;
    static final Duration PAUSE = Duration.ofSeconds(60);
    private static final Duration BATCH_MARGIN = Duration.ofSeconds(5);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Map<BackTranslationOptions, BackTranslator> PER_JVM = new ConcurrentHashMap<>();

    private final Translator translator;
    private final BackTranslationOptions options;
    private final ExecutorService pool;
    private final AtomicInteger consecutiveFailures = new AtomicInteger();
    private final AtomicLong pausedUntilNanos = new AtomicLong(); // 0: not paused

    public BackTranslator(Translator translator, BackTranslationOptions options) {
        this.translator = translator;
        this.options = options;
        this.pool = Executors.newFixedThreadPool(options.concurrency(), r -> {
            Thread t = new Thread(r, "back-translation-" + translator.id());
            t.setDaemon(true);
            return t;
        });
    }

    /** The JVM's back-translator for these options (one pool, one HTTP client per executor). */
    public static BackTranslator forOptions(BackTranslationOptions options) {
        return PER_JVM.computeIfAbsent(options, o -> new BackTranslator(translatorFor(o), o));
    }

    static Translator translatorFor(BackTranslationOptions o) {
        RetryingHttp http = new RetryingHttp(o.maxRetries(), o.initialBackoff(), o.timeout());
        if (BackTranslationOptions.APERTIUM.equals(o.translator())) {
            return new ApertiumTranslator(o.endpoint(), http);
        }
        String key = o.apiKeyEnv() == null ? null : System.getenv(o.apiKeyEnv());
        return new OpenAiChatTranslator(o.endpoint(), o.model(), key, http);
    }

    /**
     * Each text translated to the pivot language and back. Translations are looked up in {@code cache} (may be null)
     * and in {@code added}; new ones are put into {@code added}, for the caller to write to the cache once.
     */
    public List<TranslationOutcome> roundTrip(List<String> texts, TranslationCache cache, Map<String, String> added) {
        String source = options.sourceLanguage();
        String pivot = options.pivotLanguage();
        Map<String, TranslationOutcome> there = translateAll(source, pivot, texts, cache, added);
        List<String> pivots = new ArrayList<>();
        for (TranslationOutcome o : there.values()) {
            if (o.succeeded()) {
                pivots.add(o.text());
            }
        }
        Map<String, TranslationOutcome> back = translateAll(pivot, source, pivots, cache, added);
        List<TranslationOutcome> out = new ArrayList<>(texts.size());
        for (String text : texts) {
            TranslationOutcome first = there.get(text);
            out.add(first.succeeded() ? back.get(first.text()) : first);
        }
        return out;
    }

    /** Whether a back-translation says nothing new: equal to the input up to whitespace and case. */
    public static boolean unchanged(String input, String output) {
        return normalise(input).equals(normalise(output));
    }

    private static String normalise(String s) {
        return s.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    }

    private Map<String, TranslationOutcome> translateAll(String source, String target, List<String> texts,
            TranslationCache cache, Map<String, String> added) {
        Map<String, TranslationOutcome> results = new HashMap<>();
        List<String> missing = new ArrayList<>();
        for (String text : new LinkedHashSet<>(texts)) {
            String key = TranslationCache.key(translator.id(), source, target, text);
            String known = added.get(key);
            if (known == null && cache != null) {
                known = cache.get(key).orElse(null);
            }
            if (known != null) {
                results.put(text, TranslationOutcome.ok(known));
            } else {
                missing.add(text);
            }
        }
        List<List<String>> batches = batches(missing);
        List<Future<List<String>>> futures = new ArrayList<>();
        List<AtomicLong> started = new ArrayList<>();
        for (List<String> batch : batches) {
            AtomicLong start = new AtomicLong();
            started.add(start);
            futures.add(pool.submit(() -> {
                start.set(System.nanoTime());
                return send(source, target, batch);
            }));
        }
        try {
            for (int b = 0; b < batches.size(); b++) {
                List<String> batch = batches.get(b);
                Duration limit = batchLimit(batch.size());
                try {
                    List<String> translated = await(futures.get(b), started.get(b), limit);
                    for (int i = 0; i < batch.size(); i++) {
                        results.put(batch.get(i), TranslationOutcome.ok(translated.get(i)));
                        added.put(TranslationCache.key(translator.id(), source, target, batch.get(i)), translated.get(i));
                    }
                } catch (ExecutionException e) {
                    TranslationException cause = e.getCause() instanceof TranslationException t ? t
                            : new TranslationException("translation failed: " + e.getCause(), false, e.getCause());
                    for (String text : batch) {
                        results.put(text, TranslationOutcome.failed(cause));
                    }
                } catch (TimeoutException e) {
                    TranslationException cause = new TranslationException(translator.id() + " did not finish a batch of "
                            + batch.size() + " texts within " + limit.toSeconds() + " s of starting it; cancelled", true);
                    for (String text : batch) {
                        results.put(text, TranslationOutcome.failed(cause));
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for translations", e);
        } finally {
            for (Future<List<String>> f : futures) {
                f.cancel(true);             // nothing, unless this task was interrupted: then the pool drops its batches
            }
        }
        return results;
    }

    /**
     * The longest a batch of {@code texts} may run: a request for the batch and, when its answer does not split,
     * one per text, each with every retry ({@link RetryingHttp#worstCase}), plus a margin.
     */
    Duration batchLimit(int texts) {
        return RetryingHttp.worstCase(options.maxRetries(), options.timeout()).multipliedBy(1L + texts)
                .plus(BATCH_MARGIN);
    }

    /** The batch's result, waiting as long as it is queued and up to {@code limit} once it runs. */
    private static List<String> await(Future<List<String>> future, AtomicLong started, Duration limit)
            throws ExecutionException, InterruptedException, TimeoutException {
        while (true) {
            try {
                return future.get(POLL.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                long start = started.get();
                if (start != 0 && System.nanoTime() - start > limit.toNanos()) {
                    future.cancel(true);
                    throw e;
                }
            }
        }
    }

    private List<String> send(String source, String target, List<String> batch) throws TranslationException {
        long pausedUntil = pausedUntilNanos.get();
        if (pausedUntil != 0 && System.nanoTime() - pausedUntil < 0) {
            throw new TranslationException("not sent: " + translator.id() + " failed " + FAILURES_TO_PAUSE
                    + " batches in a row and is paused for " + PAUSE.toSeconds() + " s", true);
        }
        try {
            List<String> out = translator.translate(source, target, batch);
            if (out.size() != batch.size()) {
                throw new TranslationException(translator.id() + " returned " + out.size() + " translations for "
                        + batch.size() + " texts", false);
            }
            consecutiveFailures.set(0);
            return out;
        } catch (TranslationException e) {
            if (e.unavailable() && consecutiveFailures.incrementAndGet() >= FAILURES_TO_PAUSE) {
                pausedUntilNanos.set(System.nanoTime() + PAUSE.toNanos());
                consecutiveFailures.set(0);
            }
            throw e;
        }
    }

    private List<List<String>> batches(List<String> texts) {
        List<List<String>> batches = new ArrayList<>();
        List<String> current = new ArrayList<>();
        int chars = 0;
        for (String text : texts) {
            if (!current.isEmpty() && (current.size() >= options.batchSize()
                    || chars + text.length() > options.maxBatchChars())) {
                batches.add(current);
                current = new ArrayList<>();
                chars = 0;
            }
            current.add(text);
            chars += text.length();
        }
        if (!current.isEmpty()) {
            batches.add(current);
        }
        return batches;
    }
}
