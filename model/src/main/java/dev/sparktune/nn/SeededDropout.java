package dev.sparktune.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.norm.Dropout;

/**
 * Dropout whose masks are a function of a seed the calling thread set and of how many masks it has drawn since, so
 * a rank draws the same masks when it repeats a step (a resumed run) whatever other ranks in its JVM do meanwhile.
 *
 * <p>Why: libtorch draws dropout masks from one process-wide generator. Seeding it once per micro-batch made the
 * masks reproducible only while ranks in one JVM took turns; now that they compute at the same time
 * ({@link ThreadGradients}), each mask is drawn right after its own seeding, under one lock, which is held only for
 * the mask's draw. A thread that set no seed (tests outside the trainer) draws from the generator as it stands,
 * under the same lock. Anything else that seeds or draws from libtorch's generator without this lock while ranks
 * train can still shift their masks; nothing in sparktune does.
 */
public final class SeededDropout {
    /** Guards libtorch's process-wide default generator between a seeding and the draw it seeds. */
    private static final Object GENERATOR = new Object();
    private static final ThreadLocal<Stream> STREAM = new ThreadLocal<>();

    private SeededDropout() {
    }

    /** From now on, this thread's masks are the stream of {@code seed}. */
    public static void seed(long seed) {
        STREAM.set(new Stream(seed));
    }

    /** This thread's masks are libtorch's unseeded draws again. */
    public static void clear() {
        STREAM.remove();
    }

    /** Zeroes each element of {@code x} with probability {@code rate} and scales the rest by 1 / (1 - rate). */
    public static NDArray apply(NDArray x, double rate) {
        Stream stream = STREAM.get();
        // an unseeded draw takes the lock too: between another thread's seeding and its draw it would shift that mask
        synchronized (GENERATOR) {
            if (stream != null) {
                Engine.getInstance().setRandomSeed(stream.nextSeed());
            }
            return Dropout.dropout(x, (float) rate, true).singletonOrThrow();
        }
    }

    private static final class Stream {
        private final long seed;
        private long draws;

        Stream(long seed) {
            this.seed = seed;
        }

        /** A well-mixed 31-bit seed for the next draw (SplitMix64's finaliser over seed and draw number). */
        int nextSeed() {
            long z = seed * 0x9E3779B97F4A7C15L + ++draws;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return (int) ((z ^ (z >>> 31)) >>> 33);
        }
    }
}
