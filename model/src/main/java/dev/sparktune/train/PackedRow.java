package dev.sparktune.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Several samples laid end to end in one row of fixed length, padded at the end. Segment ids give the block-diagonal
 * attention mask and position ids restart in every segment, so each sample computes exactly what it would alone.
 *
 * @param inputIds    the samples' tokens, then the pad id
 * @param labels      the samples' own labels, {@value CausalLmLoss#IGNORE_INDEX} on padding; train on
 *                    {@link #lossLabels()}, which also cuts the predictions that would cross a segment boundary
 * @param segmentIds  1, 2, .. for the row's samples in order, 0 on padding
 * @param positionIds 0, 1, .. restarting at each segment, 0 on padding
 * @param sources     for each segment, the index of its sample in the list the packer was given
 */
public record PackedRow(long[] inputIds, long[] labels, long[] segmentIds, long[] positionIds, int[] sources) {

    public PackedRow {
        int n = inputIds.length;
        if (labels.length != n || segmentIds.length != n || positionIds.length != n) {
            throw new IllegalArgumentException("a packed row's arrays must all have its length " + n);
        }
    }

    public int length() {
        return inputIds.length;
    }

    public int segments() {
        return sources.length;
    }

    /** 1 for a sample's token, 0 for padding: the attention keep-mask of keys. */
    public long[] keep() {
        return Arrays.stream(segmentIds).map(s -> s == 0 ? 0 : 1).toArray();
    }

    /**
     * The labels to train on: {@link #labels()} with each segment's first label ignored, as Hugging Face's
     * {@code DataCollatorWithFlattening} does. Under the causal-LM shift that label would be predicted from the
     * previous sample's last token; alone, a sample never scores its first label either, so nothing else changes.
     */
    public long[] lossLabels() {
        long[] out = labels.clone();
        for (int t = 0; t < out.length; t++) {
            if (segmentIds[t] != 0 && positionIds[t] == 0) {
                out[t] = CausalLmLoss.IGNORE_INDEX;
            }
        }
        return out;
    }

    /** The samples this row holds, in segment order, exactly as they were given to the packer. */
    public List<TokenizedSample> samples() {
        List<TokenizedSample> out = new ArrayList<>(segments());
        int start = 0;
        for (int segment = 1; segment <= segments(); segment++) {
            int end = start;
            while (end < segmentIds.length && segmentIds[end] == segment) {
                end++;
            }
            out.add(new TokenizedSample(Arrays.copyOfRange(inputIds, start, end), Arrays.copyOfRange(labels, start, end)));
            start = end;
        }
        return out;
    }
}
