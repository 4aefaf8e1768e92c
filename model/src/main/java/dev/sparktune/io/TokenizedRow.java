package dev.sparktune.io;

import java.util.Arrays;

/**
 * One row of tokenized training data, as the data-prep jobs write it (see {@link TokenizedParquet}).
 *
 * @param inputIds   token ids
 * @param labels     per-token targets, -100 where no loss is taken (SFT prompts, padding); null for
 *                   classification rows and for plain text, where the inputs are the targets
 * @param segmentIds per-token sample number within a packed row (0 = padding, 1..); null when not packed
 * @param label      the class of a classification row; null otherwise
 * @param task       which task of a multi-task run the row belongs to; null for single-task data
 */
public record TokenizedRow(long[] inputIds, long[] labels, long[] segmentIds, Long label, String task) {

    public TokenizedRow {
        if (inputIds == null || inputIds.length == 0) {
            throw new IllegalArgumentException("a tokenized row needs input_ids");
        }
        if (labels != null && labels.length != inputIds.length) {
            throw new IllegalArgumentException("labels has " + labels.length + " entries for " + inputIds.length + " tokens");
        }
        if (segmentIds != null && segmentIds.length != inputIds.length) {
            throw new IllegalArgumentException("segment_ids has " + segmentIds.length + " entries for " + inputIds.length + " tokens");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedRow r && Arrays.equals(inputIds, r.inputIds) && Arrays.equals(labels, r.labels)
                && Arrays.equals(segmentIds, r.segmentIds) && java.util.Objects.equals(label, r.label)
                && java.util.Objects.equals(task, r.task);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(inputIds);
    }

    @Override
    public String toString() {
        return "TokenizedRow[input_ids=" + Arrays.toString(inputIds) + ", labels=" + Arrays.toString(labels)
                + ", segment_ids=" + Arrays.toString(segmentIds) + ", label=" + label + ", task=" + task + "]";
    }
}
