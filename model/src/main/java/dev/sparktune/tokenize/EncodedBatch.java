package dev.sparktune.tokenize;

import java.util.Arrays;
import java.util.List;

/**
 * Rows of token ids padded to the longest row, ready to become {@code [batch, length]} tensors.
 *
 * @param inputIds      token ids, pad id in the padded positions
 * @param attentionMask 1 for a real token, 0 for padding
 */
public record EncodedBatch(long[][] inputIds, long[][] attentionMask) {

    static EncodedBatch pad(List<long[]> rows, long padId, Side side) {
        int length = rows.stream().mapToInt(row -> row.length).max().orElse(0);
        long[][] ids = new long[rows.size()][];
        long[][] mask = new long[rows.size()][];
        for (int i = 0; i < ids.length; i++) {
            long[] row = rows.get(i);
            ids[i] = side.pad(row, length, padId);
            long[] ones = new long[row.length];
            Arrays.fill(ones, 1);
            mask[i] = side.pad(ones, length, 0);
        }
        return new EncodedBatch(ids, mask);
    }

    public int size() {
        return inputIds.length;
    }

    /** Length of every row, padding included. */
    public int length() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }
}
