package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a packed {@link TokenizedRow} means, read from its segment ids alone. A packed row holds several samples end
 * to end, as {@link SequencePacker} lays them out: segment ids 1, 2, .. for the samples in order and 0 on padding.
 * Position ids restart in every segment and attention is block-diagonal, so each sample computes exactly what it
 * would alone. A row without segment ids is one sample and holds no padding.
 */
public final class Packing {

    private Packing() {
    }

    /** 0, 1, .. restarting where the segment id changes, 0 on padding; 0, 1, .. to the end for a row not packed. */
    public static long[] positionIds(TokenizedRow row) {
        long[] segments = row.segmentIds();
        long[] positions = new long[row.length()];
        for (int t = 1; t < positions.length; t++) {
            boolean continues = segments == null || (segments[t] != 0 && segments[t] == segments[t - 1]);
            positions[t] = continues ? positions[t - 1] + 1 : 0;
        }
        return positions;
    }

    /** 1 for a sample's token, 0 for padding: the attention keep-mask of keys. */
    public static long[] keep(TokenizedRow row) {
        long[] keep = new long[row.length()];
        for (int t = 0; t < keep.length; t++) {
            keep[t] = row.segmentIds() == null || row.segmentIds()[t] != 0 ? 1 : 0;
        }
        return keep;
    }

    /**
     * The labels to train on: the row's {@link TokenizedRow#targets()} with padding and each segment's first label
     * ignored, as Hugging Face's {@code DataCollatorWithFlattening} does. Under the causal-LM shift that label would
     * be predicted from the previous sample's last token; alone, a sample never scores its first label either, so
     * nothing else changes. A row not packed is one segment: only its first label is ignored.
     */
    public static long[] lossLabels(TokenizedRow row) {
        long[] labels = row.targets().clone();
        long[] positions = positionIds(row);
        long[] keep = keep(row);
        for (int t = 0; t < labels.length; t++) {
            if (keep[t] == 0 || positions[t] == 0) {
                labels[t] = CausalLmLoss.IGNORE_INDEX;
            }
        }
        return labels;
    }

    /**
     * The samples a packed row holds, in segment order, as they were given to the packer and with the row's task; a
     * sample given without labels comes back with its ids as labels. A row not packed is its own only sample.
     */
    public static List<TokenizedRow> samples(TokenizedRow row) {
        long[] segments = row.segmentIds();
        if (segments == null) {
            return List.of(row);
        }
        List<TokenizedRow> out = new ArrayList<>();
        int start = 0;
        while (start < segments.length) {
            int end = start + 1;
            while (end < segments.length && segments[end] == segments[start]) {
                end++;
            }
            if (segments[start] != 0) {
                out.add(new TokenizedRow(Arrays.copyOfRange(row.inputIds(), start, end),
                        Arrays.copyOfRange(row.targets(), start, end), null, null, row.task()));
            }
            start = end;
        }
        return out;
    }

    /** Every sample of the rows, row by row in segment order: what the packer was given, in another order. */
    public static List<TokenizedRow> unpack(List<TokenizedRow> rows) {
        List<TokenizedRow> out = new ArrayList<>();
        rows.forEach(row -> out.addAll(samples(row)));
        return out;
    }
}
