package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.nn.AttentionMask;
import java.util.List;
import java.util.function.Function;

/**
 * Packed rows as the tensors of one training step, all [B, T] int64.
 *
 * @param labels   the rows' {@link PackedRow#lossLabels()}, so {@link CausalLmLoss} needs no segment ids
 * @param segments the largest number of segments in a row, for {@link CausalLmLoss#perSegment}
 */
public record PackedBatch(NDArray inputIds, NDArray labels, NDArray segmentIds, NDArray positionIds, NDArray keep,
                          int segments) {

    public static PackedBatch of(List<PackedRow> rows, NDManager manager) {
        return new PackedBatch(
                stack(rows, PackedRow::inputIds, manager),
                stack(rows, PackedRow::lossLabels, manager),
                stack(rows, PackedRow::segmentIds, manager),
                stack(rows, PackedRow::positionIds, manager),
                stack(rows, PackedRow::keep, manager),
                rows.stream().mapToInt(PackedRow::segments).max().orElse(0));
    }

    /** Causal within each segment, blind to other segments and to padding. */
    public AttentionMask attentionMask() {
        return AttentionMask.causal(keep).withSegments(segmentIds);
    }

    private static NDArray stack(List<PackedRow> rows, Function<PackedRow, long[]> field, NDManager manager) {
        long[][] values = rows.stream().map(field).toArray(long[][]::new);
        return manager.create(values);
    }
}
