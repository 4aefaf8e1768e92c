package dev.sparktune.serve;

import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.NextToken;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;

/**
 * One prompt being completed by a {@link ContinuousBatcher}. The batcher's thread appends tokens and publishes them as
 * {@link Event}s; the request's thread waits for those events and may cancel the sequence (client gone, timeout),
 * which takes it out of the batch before the next decoding step.
 */
final class Sequence {
    /** What the request thread hears of the sequence with this index: each new token, then one end. */
    sealed interface Event permits Token, Finished, Failed {
        int index();
    }

    record Token(int index, long id) implements Event {
    }

    /** @param reason OpenAI's finish_reason: {@code stop} (eos or a stop string) or {@code length} */
    record Finished(int index, String reason) implements Event {
    }

    record Failed(int index, RuntimeException cause) implements Event {
    }

    /** The choice this sequence answers, in its request. */
    final int index;
    final long[] prompt;
    final GenerationConfig config;
    final NextToken picker;
    /** Prompt and generated ids, for the repetition penalty; the batcher's thread only. */
    final List<Long> seen = new ArrayList<>();
    /** Generated ids; the batcher's thread only. */
    final List<Long> generated = new ArrayList<>();
    /** Real tokens of this row held by the batch's KV cache; the batcher's thread only. */
    int cached;
    /** Set by the batcher's thread when the sequence ends. */
    String finishReason;

    private final BlockingQueue<Event> events;
    private volatile boolean cancelled;

    /** @param events where this sequence's events go; the sequences of one request share it */
    Sequence(int index, long[] prompt, GenerationConfig config, BlockingQueue<Event> events) {
        this.index = index;
        this.events = events;
        this.prompt = prompt.clone();
        this.config = config;
        this.picker = new NextToken(config);
        for (long id : prompt) {
            seen.add(id);
        }
    }

    /** The request no longer wants this sequence; the batcher drops it before its next step. */
    void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }

    void token(long id) {
        events.add(new Token(index, id));
    }

    void finish(String reason) {
        events.add(new Finished(index, reason));
    }

    void fail(RuntimeException cause) {
        events.add(new Failed(index, cause));
    }

    long lastToken() {
        return generated.get(generated.size() - 1);
    }
}
