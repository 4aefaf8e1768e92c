package dev.sparktune.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MinHasherTest {
    private static final String BASE = "the quick brown fox jumps over the lazy dog while the farmer watches from"
            + " the old wooden fence and the sun sets slowly behind the hills of the quiet valley";

    /** Jaccard of the sets of k-character substrings, computed on strings: the reference, no hashing involved. */
    static double referenceJaccard(String a, String b, int k) {
        Set<String> x = shingles(a, k);
        Set<String> y = shingles(b, k);
        Set<String> both = new HashSet<>(x);
        both.retainAll(y);
        Set<String> either = new HashSet<>(x);
        either.addAll(y);
        return (double) both.size() / either.size();
    }

    private static Set<String> shingles(String s, int k) {
        Set<String> out = new HashSet<>();
        for (int i = 0; i + k <= s.length(); i++) {
            out.add(s.substring(i, i + k));
        }
        return out;
    }

    /** {@code edits} random single-character substitutions, reproducible by seed. */
    static String edit(String s, int edits, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        char[] c = s.toCharArray();
        for (int i = 0; i < edits; i++) {
            c[r.nextInt(c.length)] = (char) ('a' + r.nextInt(26));
        }
        return new String(c);
    }

    @Test
    void exactJaccardMatchesTheStringSetReference() {
        MinHasher h = new MinHasher(128, 5, new LshBands(16, 8));
        for (int edits : new int[] {0, 1, 3, 10, 40}) {
            String other = edit(BASE, edits, edits);
            assertEquals(referenceJaccard(BASE, other, 5), h.jaccard(BASE, other), 1e-12, "edits " + edits);
        }
        assertEquals(0.0, h.jaccard("abcdefgh", "stuvwxyz"));
        assertEquals(1.0, h.jaccard("abc", "abc"), "texts shorter than a shingle are one shingle");
    }

    @Test
    void signatureAgreementEstimatesJaccardWithinItsStandardError() {
        int numPerm = 256;
        MinHasher h = new MinHasher(numPerm, 5, new LshBands(32, 8));
        for (int edits : new int[] {1, 3, 8, 20, 60}) {
            String other = edit(BASE, edits, 100 + edits);
            double j = referenceJaccard(BASE, other, 5);
            double estimate = MinHasher.estimate(h.signature(BASE), h.signature(other));
            // the estimate is a mean of numPerm Bernoulli(J) draws: allow 4 standard errors (plus a floor)
            double tolerance = 4 * Math.sqrt(j * (1 - j) / numPerm) + 0.01;
            assertEquals(j, estimate, tolerance, "edits " + edits + ", Jaccard " + j);
        }
    }

    @Test
    void signaturesAreTheSameInEveryInstance() {
        LshBands bands = LshBands.forThreshold(0.8, 128);
        assertArrayEquals(new MinHasher(128, 5, bands).bandHashes(BASE), new MinHasher(128, 5, bands).bandHashes(BASE));
    }

    @Test
    void bandsAreChosenAroundTheThreshold() {
        LshBands bands = LshBands.forThreshold(0.8, 128);
        assertTrue(bands.bands() * bands.rows() <= 128, bands.toString());
        // the S-curve 1 - (1 - s^r)^b is steep around the threshold
        // recall is favoured (candidates are verified): near-certain above the threshold, rare far below it
        assertTrue(bands.candidateProbability(0.85) > 0.95, bands + " at 0.85");
        assertTrue(bands.candidateProbability(0.9) > 0.99, bands + " at 0.9");
        assertTrue(bands.candidateProbability(0.4) < 0.02, bands + " at 0.4");
        LshBands loose = LshBands.forThreshold(0.5, 128);
        assertTrue(loose.candidateProbability(0.5) > bands.candidateProbability(0.5), loose + " vs " + bands);
    }
}
