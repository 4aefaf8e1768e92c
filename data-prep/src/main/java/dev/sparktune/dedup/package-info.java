/**
 * The dedup stage of data prep ({@link dev.sparktune.dedup.DedupStage}): exact duplicates by SHA-256 of the
 * normalised content, near-duplicates by MinHash LSH over character shingles ({@link dev.sparktune.dedup.MinHasher},
 * {@link dev.sparktune.dedup.LshBands}) verified with the exact Jaccard similarity and grouped by connected
 * components. Options: {@link dev.sparktune.dedup.DedupOptions}.
 */
package dev.sparktune.dedup;
