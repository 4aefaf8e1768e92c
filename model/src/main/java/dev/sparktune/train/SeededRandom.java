package dev.sparktune.train;

import java.util.Arrays;
import java.util.List;

/**
 * The training loop's random numbers: xoshiro256** (Blackman and Vigna, 2018), seeded by
 * SplitMix64 as its authors recommend. A run keys one generator per purpose ({@link #of}: the
 * seed with, say, the epoch), so a run resumed from a checkpoint draws exactly the numbers the
 * uninterrupted run would have drawn without saving any generator state. Unlike
 * {@link java.util.Random}, its whole state is four longs ({@link #state()}, {@link #restore}).
 */
public final class SeededRandom {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private long s0;
    private long s1;
    private long s2;
    private long s3;

    public SeededRandom(long seed) {
        long x = seed;
        s0 = mix(x += GOLDEN_GAMMA);
        s1 = mix(x += GOLDEN_GAMMA);
        s2 = mix(x += GOLDEN_GAMMA);
        s3 = mix(x + GOLDEN_GAMMA);
    }

    private SeededRandom(long[] state) {
        s0 = state[0];
        s1 = state[1];
        s2 = state[2];
        s3 = state[3];
    }

    /**
     * An independent generator for one purpose within a run, e.g. {@code (seed, epoch)} for the
     * data order of that epoch: the same keys always give the same generator.
     */
    public static SeededRandom of(long seed, long... keys) {
        long h = mix(seed);
        for (long key : keys) {
            h = mix(h ^ mix(key + GOLDEN_GAMMA));
        }
        return new SeededRandom(h);
    }

    /** The generator whose state {@link #state()} returned. */
    public static SeededRandom restore(long[] state) {
        if (state.length != 4) {
            throw new IllegalArgumentException("xoshiro256** state is 4 longs, got " + state.length);
        }
        if ((state[0] | state[1] | state[2] | state[3]) == 0) {
            throw new IllegalArgumentException("xoshiro256** state cannot be all zeros (the generator would emit only zeros)");
        }
        return new SeededRandom(state);
    }

    /** A copy of the four state words; changing it does not change the generator. */
    public long[] state() {
        return new long[] {s0, s1, s2, s3};
    }

    public SeededRandom copy() {
        return new SeededRandom(state());
    }

    public long nextLong() {
        long result = Long.rotateLeft(s1 * 5, 7) * 9;
        long t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = Long.rotateLeft(s3, 45);
        return result;
    }

    /** Uniform in [0, 1), with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [0, bound), without modulo bias (Lemire, "Fast Random Integer Generation in an Interval", 2019). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be > 0, got " + bound);
        }
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x1_0000_0000L - bound) % bound;
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** Fisher-Yates (Durstenfeld): every permutation equally likely. */
    public void shuffle(int[] values) {
        for (int i = values.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int v = values[i];
            values[i] = values[j];
            values[j] = v;
        }
    }

    public <T> void shuffle(List<T> values) {
        for (int i = values.size() - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            values.set(i, values.set(j, values.get(i)));
        }
    }

    /** 0, 1, ..., n-1 in random order. */
    public int[] permutation(int n) {
        int[] order = new int[n];
        Arrays.setAll(order, i -> i);
        shuffle(order);
        return order;
    }

    /** SplitMix64's output function (Steele, Lea and Flood, 2014). */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
