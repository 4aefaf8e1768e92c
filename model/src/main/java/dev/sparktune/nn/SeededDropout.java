package dev.sparktune.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.norm.Dropout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/**
 * Dropout whose masks are a function of a seed the calling thread set and of how many masks it has drawn since, so
 * a rank draws the same masks when it repeats a step (a resumed run) whatever other ranks in its JVM do meanwhile.
 *
 * <p>A seeded thread's mask is computed here, on CPU tensors: element i of draw d keeps its value (scaled by
 * 1 / (1 - rate)) when a 24-bit uniform from SplitMix64 over (seed, d, i) is below (1 - rate) * 2^24, the resolution
 * of a float {@code torch.rand}. Why not libtorch's {@code dropout}: it draws from one process-wide generator, so
 * ranks sharing a JVM ({@link ThreadGradients}) had to reseed and draw under one lock, taking turns; and on CPUs
 * where libtorch does not use MKL's generator (AMD's among them) its Bernoulli kernel draws one Mersenne-Twister
 * number per element: about a tenth of a MiniLM training step at 128 tokens on this project's 2-core test machine
 * (BENCHMARKS.md), where this loop costs about a hundredth.
 *
 * <p>A thread that set no seed (tests outside the trainer), and tensors on a GPU, use libtorch's dropout and its
 * generator as it stands, under a lock.
 */
public final class SeededDropout {
    /** Guards libtorch's process-wide default generator for the draws that use it. */
    private static final Object GENERATOR = new Object();
    private static final ThreadLocal<Stream> STREAM = new ThreadLocal<>();
    /** Masks each thread drew from libtorch's generator: those cannot be drawn again. */
    private static final ThreadLocal<long[]> LIBTORCH_DRAWS = ThreadLocal.withInitial(() -> new long[1]);

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

    /** How many masks this thread has drawn from its seed (0 without one): a position to {@link #seek} back to. */
    public static long position() {
        Stream stream = STREAM.get();
        return stream == null ? 0 : stream.draws;
    }

    /** The next masks of this thread are those drawn from {@code position} on, again: a recomputation's. */
    public static void seek(long position) {
        Stream stream = STREAM.get();
        if (stream != null) {
            stream.draws = position;
        }
    }

    /** How many masks this thread has drawn from libtorch's generator, which {@link #seek} cannot replay. */
    public static long libtorchDraws() {
        return LIBTORCH_DRAWS.get()[0];
    }

    /** Zeroes each element of {@code x} with probability {@code rate} and scales the rest by 1 / (1 - rate). */
    public static NDArray apply(NDArray x, double rate) {
        Stream stream = STREAM.get();
        if (stream == null || !x.getDevice().equals(Device.cpu())) {
            LIBTORCH_DRAWS.get()[0]++;
            synchronized (GENERATOR) {
                return Dropout.dropout(x, (float) rate, true).singletonOrThrow();
            }
        }
        return x.mul(stream.nextMask(x, rate));
    }

    private static final class Stream {
        private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
        private final long seed;
        private long draws;

        Stream(long seed) {
            this.seed = seed;
        }

        /** A mask of {@code like}'s shape and dtype, in libtorch's memory: 0 or 1 / (1 - rate) per element. */
        NDArray nextMask(NDArray like, double rate) {
            long start = mix(seed * GOLDEN_GAMMA + ++draws);
            int threshold = (int) Math.round((1 - rate) * (1 << 24));
            boolean wide = like.getDataType() == DataType.FLOAT64;
            NDArray mask = like.getManager().create(like.getShape(), wide ? DataType.FLOAT64 : DataType.FLOAT32);
            ByteBuffer memory = mask.toByteBuffer(true).order(ByteOrder.nativeOrder());
            long size = like.getShape().size();
            if (wide) {
                fill(memory.asDoubleBuffer(), size, start, threshold, 1 / (1 - rate));
            } else {
                fill(memory.asFloatBuffer(), size, start, threshold, (float) (1 / (1 - rate)));
            }
            return wide || like.getDataType() == DataType.FLOAT32 ? mask : mask.toType(like.getDataType(), false);
        }

        /** Two elements per 64-bit draw: the high and the low 24 of its upper and lower halves. */
        private static void fill(FloatBuffer out, long size, long start, int threshold, float scale) {
            for (int i = 0; i < size; i += 2) {
                long z = mix(start + (i >>> 1) * GOLDEN_GAMMA);
                out.put(i, (int) (z >>> 40) < threshold ? scale : 0f);
                if (i + 1 < size) {
                    out.put(i + 1, (int) ((z >>> 8) & 0xFFFFFF) < threshold ? scale : 0f);
                }
            }
        }

        private static void fill(DoubleBuffer out, long size, long start, int threshold, double scale) {
            for (int i = 0; i < size; i += 2) {
                long z = mix(start + (i >>> 1) * GOLDEN_GAMMA);
                out.put(i, (int) (z >>> 40) < threshold ? scale : 0d);
                if (i + 1 < size) {
                    out.put(i + 1, (int) ((z >>> 8) & 0xFFFFFF) < threshold ? scale : 0d);
                }
            }
        }

        /** SplitMix64's finaliser. */
        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }
}
