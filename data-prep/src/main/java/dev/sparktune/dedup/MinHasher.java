package dev.sparktune.dedup;

import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * MinHash over character shingles (Broder 1997): a text becomes the set of its k-character substrings, each
 * hashed to 64 bits; signature value i is the minimum of {@code mix(h XOR seed_i)} over the set, so two texts
 * agree on value i with probability equal to the Jaccard similarity of their shingle sets. Signatures are cut
 * into bands for LSH ({@link LshBands}).
 *
 * <p>Character shingles, not word shingles: Chinese and Japanese text has no spaces to split words at, and
 * prep rows are often one or two sentences, where word 5-grams are too few for a one-word edit to leave any
 * in common. A one-character edit changes at most k shingles.
 *
 * <p>The seeds come from a fixed {@link SplittableRandom} seed, so signatures are the same on every executor and
 * every rerun.
 */
public final class MinHasher implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final long SEED = 0x5EED_D0D0_CAFE_F00DL;

    private final int shingleSize;
    private final long[] seeds;
    private final LshBands bands;

    public MinHasher(int numPerm, int shingleSize, LshBands bands) {
        if (bands.bands() * bands.rows() > numPerm) {
            throw new IllegalArgumentException(bands + " needs more than " + numPerm + " permutations");
        }
        this.shingleSize = shingleSize;
        this.bands = bands;
        SplittableRandom random = new SplittableRandom(SEED);
        this.seeds = new long[numPerm];
        for (int i = 0; i < numPerm; i++) {
            seeds[i] = random.nextLong();
        }
    }

    /** The distinct 64-bit hashes of the text's {@code shingleSize}-code-point substrings, sorted. */
    public long[] shingles(String text) {
        int[] cps = text.codePoints().toArray();
        if (cps.length <= shingleSize) {
            return new long[] {hash(cps, 0, cps.length)};
        }
        long[] out = new long[cps.length - shingleSize + 1];
        for (int i = 0; i < out.length; i++) {
            out[i] = hash(cps, i, shingleSize);
        }
        Arrays.sort(out);
        int n = 0;
        for (int i = 0; i < out.length; i++) {
            if (i == 0 || out[i] != out[n - 1]) {
                out[n++] = out[i];
            }
        }
        return Arrays.copyOf(out, n);
    }

    public long[] signature(String text) {
        long[] shingles = shingles(text);
        long[] sig = new long[seeds.length];
        Arrays.fill(sig, Long.MAX_VALUE);
        for (long h : shingles) {
            for (int i = 0; i < sig.length; i++) {
                long v = mix(h ^ seeds[i]);
                if (v < sig[i]) {
                    sig[i] = v;
                }
            }
        }
        return sig;
    }

    /** One hash per LSH band: rows that share a band's hash are candidate near-duplicates. */
    public long[] bandHashes(String text) {
        long[] sig = signature(text);
        long[] out = new long[bands.bands()];
        for (int b = 0; b < out.length; b++) {
            long h = 0x9E37_79B9_7F4A_7C15L;
            for (int r = 0; r < bands.rows(); r++) {
                h = mix(h ^ sig[b * bands.rows() + r]);
            }
            out[b] = h;
        }
        return out;
    }

    /** Exact Jaccard similarity of the two texts' shingle sets (the quantity the signature estimates). */
    public double jaccard(String a, String b) {
        long[] x = shingles(a);
        long[] y = shingles(b);
        int i = 0;
        int j = 0;
        int common = 0;
        while (i < x.length && j < y.length) {
            if (x[i] == y[j]) {
                common++;
                i++;
                j++;
            } else if (x[i] < y[j]) {
                i++;
            } else {
                j++;
            }
        }
        return (double) common / (x.length + y.length - common);
    }

    /** Estimated Jaccard similarity: the fraction of signature values two texts share. */
    public static double estimate(long[] sigA, long[] sigB) {
        int same = 0;
        for (int i = 0; i < sigA.length; i++) {
            if (sigA[i] == sigB[i]) {
                same++;
            }
        }
        return (double) same / sigA.length;
    }

    private static long hash(int[] cps, int from, int length) {
        long h = 0xcbf2_9ce4_8422_2325L; // FNV-1a 64 offset basis
        for (int i = from; i < from + length; i++) {
            h ^= cps[i];
            h *= 0x0000_0100_0000_01B3L; // FNV-1a 64 prime
        }
        return mix(h);
    }

    /** MurmurHash3's 64-bit finaliser: a bijection that spreads every input bit over the output. */
    static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51_afd7_ed55_8ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ce_b9fe_1a85_ec53L;
        return z ^ (z >>> 33);
    }
}
