package dev.sparktune.dedup;

import java.io.Serializable;

/**
 * What the dedup stage does.
 *
 * @param exact         drop rows whose normalised content hashes the same as a row with a smaller id ({@code exact})
 * @param near          drop near-duplicates found by MinHash LSH ({@code near})
 * @param threshold     Jaccard similarity of character shingle sets at or above which two rows are near-duplicates
 *                      ({@code threshold}, in (0, 1])
 * @param numPerm       MinHash signature length ({@code num_perm}); more is more accurate and slower. The LSH
 *                      bands and rows per band are chosen from it and the threshold
 * @param shingleSize   characters per shingle ({@code shingle_size})
 * @param maxIterations at most this many rounds of label propagation when grouping near-duplicates
 *                      ({@code max_iterations}); chains longer than this stay split into several groups
 */
public record DedupOptions(boolean exact, boolean near, double threshold, int numPerm, int shingleSize,
                           int maxIterations) implements Serializable {

    public DedupOptions {
        if (!(threshold > 0 && threshold <= 1)) {
            throw new IllegalArgumentException("dedup option threshold is " + threshold
                    + ": use a Jaccard similarity in (0, 1], e.g. 0.8");
        }
        if (numPerm < 2 || numPerm > 1024) {
            throw new IllegalArgumentException("dedup option num_perm is " + numPerm + ": use 2 to 1024, e.g. 128");
        }
        if (shingleSize < 1 || shingleSize > 64) {
            throw new IllegalArgumentException("dedup option shingle_size is " + shingleSize
                    + ": use 1 to 64 characters, e.g. 5");
        }
        if (maxIterations < 1) {
            throw new IllegalArgumentException("dedup option max_iterations is " + maxIterations + ": use 1 or more");
        }
    }

    /** Exact and near dedup, Jaccard 0.8, 128 permutations, 5-character shingles, up to 30 propagation rounds. */
    public static DedupOptions defaults() {
        return new DedupOptions(true, true, 0.8, 128, 5, 30);
    }

    public DedupOptions withThreshold(double jaccard) {
        return new DedupOptions(exact, near, jaccard, numPerm, shingleSize, maxIterations);
    }
}
