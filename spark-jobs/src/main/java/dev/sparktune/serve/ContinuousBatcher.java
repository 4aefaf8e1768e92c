package dev.sparktune.serve;

import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.Llama;
import dev.sparktune.generate.Generator;
import dev.sparktune.nn.KvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching (Orca's iteration-level scheduling, Yu et al., OSDI 2022) for one decoder: every running
 * sequence advances by one token per forward pass, sequences that arrive while the batch runs join it between two
 * decoding steps, and finished ones leave at once. Joining sequences are prefilled together in one pass, then their
 * KV cache rows are appended to the running batch's, left-padded to a common length; each row keeps its own positions
 * and its padding is masked out, so a sequence decodes as it would alone (Hugging Face's left-padded batches do the
 * same). Token picking follows {@link Generator} step for step: same processors, same stop rules. One thread owns the model and the cache; request threads only submit and wait.
 */
final class ContinuousBatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ContinuousBatcher.class);

    /** The waiting queue is full: the request should be retried later (HTTP 429). */
    static final class QueueFullException extends Exception {
        QueueFullException(String message) {
            super(message);
        }
    }

    private final ServedModel served;
    private final Llama model;
    private final NDManager manager;
    private final int maxBatch;
    private final BlockingQueue<Sequence> waiting;
    private final ServerMetrics metrics;
    private final Function<long[], String> decoder;
    private final Thread thread;
    private volatile boolean closed;

    // owned by the batching thread
    private final List<Sequence> running = new ArrayList<>();
    private KvCache cache;
    /** Real positions in the cache (after any prefix-tuning virtual tokens); every row ends at the last one. */
    private int cacheLength;
    /** Positions at the front of every row that are not tokens of it (prefix tuning's virtual tokens). */
    private int leading;

    ContinuousBatcher(ServedModel served, NDManager manager, int maxBatch, int maxQueue, ServerMetrics metrics) {
        this.served = served;
        this.model = (Llama) served.model();
        this.manager = manager;
        this.maxBatch = maxBatch;
        this.waiting = new ArrayBlockingQueue<>(maxQueue);
        this.metrics = metrics;
        this.decoder = ids -> served.tokenizer().decode(ids, true);
        metrics.queue(served.id(), waiting::size);
        this.thread = new Thread(this::loop, "sparktune-batcher-" + served.id());
        thread.setDaemon(true);
        thread.start();
    }

    /** Queues all of {@code sequences} or none (the n choices of one request travel together). */
    synchronized void submit(List<Sequence> sequences) throws QueueFullException {
        if (closed) {
            throw new IllegalStateException("the server is shutting down");
        }
        if (waiting.remainingCapacity() < sequences.size()) {
            throw new QueueFullException("the queue of " + served.id() + " is full ("
                    + (waiting.size() + waiting.remainingCapacity()) + " sequences waiting); retry later");
        }
        waiting.addAll(sequences);
    }

    private void loop() {
        while (!closed) {
            List<Sequence> joining = new ArrayList<>();
            try {
                if (running.isEmpty()) {
                    Sequence first = waiting.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    joining.add(first);
                }
                waiting.drainTo(joining, maxBatch - running.size() - joining.size());
                joining.removeIf(Sequence::cancelled);
                if (!joining.isEmpty()) {
                    prefill(joining);
                }
                dropFinished();
                if (!running.isEmpty()) {
                    decodeStep();
                    dropFinished();
                }
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException e) {
                LOG.error("generation with {} failed; failing the sequences of this batch", served.id(), e);
                joining.forEach(s -> s.fail(e));
                running.forEach(s -> s.fail(e));
                running.clear();
                resetCache();
            }
        }
        RuntimeException shutdown = new IllegalStateException("the server shut down before this completion ended");
        running.forEach(s -> s.fail(shutdown));
        waiting.forEach(s -> s.fail(shutdown));
        resetCache();
    }

    /** One pass over the joining prompts, left-padded; their first tokens; then their cache rows join the batch's. */
    private void prefill(List<Sequence> joining) {
        int rows = joining.size();
        int longest = joining.stream().mapToInt(s -> s.prompt.length).max().orElseThrow();
        long[][] ids = new long[rows][longest];
        long[][] positions = new long[rows][longest];
        long[][] keep = new long[rows][longest];
        for (int b = 0; b < rows; b++) {
            long[] prompt = joining.get(b).prompt;
            int pad = longest - prompt.length;
            for (int t = 0; t < longest; t++) {
                boolean real = t >= pad;
                ids[b][t] = real ? prompt[t - pad] : served.padTokenId();
                positions[b][t] = real ? t - pad : 0;
                keep[b][t] = real ? 1 : 0;
            }
        }
        KvCache fresh = new KvCache(manager, model.config().numHiddenLayers());
        try {
            float[][] last = lastLogits(ids, positions, keep, fresh);
            metrics.forwardPass(served.id(), "prefill", rows);
            for (int b = 0; b < rows; b++) {
                Sequence s = joining.get(b);
                s.cached = s.prompt.length;
                accept(s, last[b]);
            }
            if (running.isEmpty()) {
                resetCache();
                leading = (int) (fresh.length() - longest);
                cache = fresh;
                fresh = null;
                cacheLength = longest;
            } else {
                cache.appendRows(fresh, leading);
                cacheLength = Math.max(cacheLength, longest);
            }
            running.addAll(joining);
        } finally {
            if (fresh != null) {
                fresh.close();
            }
        }
    }

    /** One token for every running sequence: its last token goes in, its next token comes out. */
    private void decodeStep() {
        int rows = running.size();
        long[][] ids = new long[rows][1];
        long[][] positions = new long[rows][1];
        long[][] keep = new long[rows][cacheLength + 1];
        for (int b = 0; b < rows; b++) {
            Sequence s = running.get(b);
            ids[b][0] = s.lastToken();
            positions[b][0] = s.cached;
            Arrays.fill(keep[b], cacheLength - s.cached, cacheLength + 1, 1);
        }
        float[][] last = lastLogits(ids, positions, keep, cache);
        metrics.forwardPass(served.id(), "decode", rows);
        cacheLength++;
        for (int b = 0; b < rows; b++) {
            Sequence s = running.get(b);
            s.cached++;
            accept(s, last[b]);
        }
    }

    /** Picks a sequence's next token as the Generator does and decides whether the sequence ends with it. */
    private void accept(Sequence s, float[] logits) {
        if (s.cancelled()) {
            return;
        }
        long token = s.picker.pick(logits, s.seen);
        s.generated.add(token);
        s.seen.add(token);
        s.token(token);
        s.finishReason = Generator.stopReason(token, s.generated, s.config, decoder);
        if (s.finishReason == null && s.generated.size() >= s.config.maxNewTokens()) {
            s.finishReason = "length";
        }
        if (s.finishReason != null) {
            s.finish(s.finishReason);
        }
    }

    /** Finished and cancelled sequences leave; cache positions that no remaining row uses are dropped. */
    private void dropFinished() {
        List<Long> kept = new ArrayList<>();
        List<Sequence> remaining = new ArrayList<>();
        for (int b = 0; b < running.size(); b++) {
            Sequence s = running.get(b);
            if (s.finishReason == null && !s.cancelled()) {
                kept.add((long) b);
                remaining.add(s);
            }
        }
        if (remaining.size() == running.size()) {
            return;
        }
        running.clear();
        running.addAll(remaining);
        if (remaining.isEmpty()) {
            resetCache();
            return;
        }
        cache.keepRows(kept.stream().mapToLong(Long::longValue).toArray());
        int longest = remaining.stream().mapToInt(s -> s.cached).max().orElseThrow();
        cache.dropPositions(leading, cacheLength - longest);
        cacheLength = longest;
    }

    private void resetCache() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
        cacheLength = 0;
    }

    private float[][] lastLogits(long[][] ids, long[][] positions, long[][] keep, KvCache kv) {
        return Generator.lastLogits(model, manager, ids, positions, keep, kv);
    }

    /** Stops taking sequences and ends the batching thread; sequences still waiting or running fail. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        thread.interrupt();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
