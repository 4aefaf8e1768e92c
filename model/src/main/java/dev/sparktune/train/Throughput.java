package dev.sparktune.train;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;

/**
 * Tokens per second and time left, over the last {@code window} steps only: the first steps
 * (warm-up, lazy initialisation) and pauses such as checkpoint saves stop counting once they
 * leave the window. Times are passed in ({@link System#nanoTime()} in a run), so the arithmetic
 * can be checked on given timings.
 */
public final class Throughput {
    private record Mark(long nanos, long tokens) {
    }

    private final int window;
    /** The mark before the window, then one mark per step in it. */
    private final ArrayDeque<Mark> marks = new ArrayDeque<>();
    private long tokensInWindow;

    public Throughput(int window, long startNanos) {
        if (window < 1) {
            throw new IllegalArgumentException("window must be at least 1 step, got " + window);
        }
        this.window = window;
        marks.addLast(new Mark(startNanos, 0));
    }

    /** A step that processed {@code tokens} tokens ended at {@code nanos}. */
    public void step(long tokens, long nanos) {
        if (nanos < marks.getLast().nanos()) {
            throw new IllegalArgumentException("time went backwards: step ended at " + nanos + " ns, the one before at "
                    + marks.getLast().nanos() + " ns");
        }
        marks.addLast(new Mark(nanos, tokens));
        tokensInWindow += tokens;
        if (marks.size() > window + 1) {
            marks.removeFirst();
            tokensInWindow -= marks.getFirst().tokens();
        }
    }

    /** Over the window; 0 before the first step. */
    public double tokensPerSecond() {
        double seconds = windowSeconds();
        return seconds > 0 ? tokensInWindow / seconds : 0;
    }

    /** Mean step time over the window; empty before the first step. */
    public Optional<Duration> timePerStep() {
        int steps = marks.size() - 1;
        if (steps == 0) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(Math.round(windowSeconds() * 1e9 / steps)));
    }

    /** Time for {@code remainingSteps} more steps at the window's pace; empty before the first step. */
    public Optional<Duration> eta(long remainingSteps) {
        int steps = marks.size() - 1;
        if (steps == 0) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(Math.round(windowSeconds() * 1e9 * Math.max(0, remainingSteps) / steps)));
    }

    private double windowSeconds() {
        return (marks.getLast().nanos() - marks.getFirst().nanos()) / 1e9;
    }
}
