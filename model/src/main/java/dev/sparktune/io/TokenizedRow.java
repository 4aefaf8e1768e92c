package dev.sparktune.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * One row of tokenized data: the row of the tokenized Parquet the data-prep jobs write and the trainer reads (see
 * {@link TokenizedParquet}), and the sample that the SFT encoder, the tokenize stage and the packer pass along. A
 * <em>sample</em> is a row without segment ids; {@code SequencePacker} lays samples end to end into packed rows and
 * sets their segment ids, and {@code Packing} reads a packed row's positions, loss labels and samples back from
 * them. Labels are not shifted: as in Hugging Face, {@code labels[t]} is the token at {@code t}, predicted from
 * position {@code t - 1}.
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

    /** A causal-LM sample of no particular task: ids and their labels, not packed, no class. */
    public static TokenizedRow sample(long[] inputIds, long[] labels) {
        return new TokenizedRow(inputIds, labels, null, null, null);
    }

    /**
     * A continued-pretraining sample: every token is a label (the shift in the loss makes it next-token prediction).
     * The labels are a copy of the ids, as the tokenize stage writes them, not null.
     */
    public static TokenizedRow pretraining(long[] inputIds) {
        return sample(inputIds, inputIds.clone());
    }

    public int length() {
        return inputIds.length;
    }

    /** The per-token targets: the labels, or the input ids of a row without labels. */
    public long[] targets() {
        return labels != null ? labels : inputIds;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedRow r && Arrays.equals(inputIds, r.inputIds) && Arrays.equals(labels, r.labels)
                && Arrays.equals(segmentIds, r.segmentIds) && Objects.equals(label, r.label)
                && Objects.equals(task, r.task);
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
