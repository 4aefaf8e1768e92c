package dev.sparktune.dist;

import java.time.Duration;

/**
 * A collective that counts the wall time this rank spends in its calls: moving bytes, reducing them, and waiting for
 * slower peers, which is what a step loses to communication when nothing overlaps it. Calls are delegated unchanged.
 * The counter is a plain field: one rank's calls come from one thread at a time, and only that same thread may read
 * {@link #seconds()} (the trainer's loop does both).
 */
public final class TimedCollective implements Collective {
    private final Collective inner;
    private long nanos;

    public TimedCollective(Collective inner) {
        this.inner = inner;
    }

    /** Seconds spent in every call so far. */
    public double seconds() {
        return nanos / 1e9;
    }

    @Override
    public int rank() {
        return inner.rank();
    }

    @Override
    public int worldSize() {
        return inner.worldSize();
    }

    @Override
    public void allReduce(float[] buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.allReduce(buffer, offset, length, reduction));
    }

    @Override
    public void allReduce(double[] buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.allReduce(buffer, offset, length, reduction));
    }

    @Override
    public void allReduce(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.allReduce(buffer, offset, length, reduction));
    }

    @Override
    public void reduceScatter(float[] buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.reduceScatter(buffer, offset, length, reduction));
    }

    @Override
    public void reduceScatter(double[] buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.reduceScatter(buffer, offset, length, reduction));
    }

    @Override
    public void reduceScatter(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        timed(() -> inner.reduceScatter(buffer, offset, length, reduction));
    }

    @Override
    public void allGather(float[] buffer, int offset, int length) {
        timed(() -> inner.allGather(buffer, offset, length));
    }

    @Override
    public void allGather(double[] buffer, int offset, int length) {
        timed(() -> inner.allGather(buffer, offset, length));
    }

    @Override
    public void allGather(FlatBuffer buffer, int offset, int length) {
        timed(() -> inner.allGather(buffer, offset, length));
    }

    @Override
    public void broadcast(float[] buffer, int offset, int length, int root) {
        timed(() -> inner.broadcast(buffer, offset, length, root));
    }

    @Override
    public void broadcast(double[] buffer, int offset, int length, int root) {
        timed(() -> inner.broadcast(buffer, offset, length, root));
    }

    @Override
    public void broadcast(FlatBuffer buffer, int offset, int length, int root) {
        timed(() -> inner.broadcast(buffer, offset, length, root));
    }

    @Override
    public void barrier() {
        timed(inner::barrier);
    }

    @Override
    public void barrier(Duration timeout) {
        timed(() -> inner.barrier(timeout));
    }

    /** Closes the wrapped collective: the wrapper owns nothing of its own. */
    @Override
    public void close() {
        inner.close();
    }

    private void timed(Runnable call) {
        long start = System.nanoTime();
        try {
            call.run();
        } finally {
            nanos += System.nanoTime() - start;
        }
    }
}
