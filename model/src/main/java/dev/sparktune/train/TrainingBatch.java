package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import java.util.Arrays;
import java.util.List;

/**
 * Tokenized rows as tensors for one micro-batch, right-padded to the longest row. Positions, keep-mask and labels
 * are each row's {@link Packing} view: a packed row (with segment ids) gets positions restarting per segment, a
 * block-diagonal mask and no prediction across a segment boundary; a row without labels trains on its own tokens
 * (continued pretraining).
 *
 * @param inputIds  [B, T]
 * @param labels    [B, T], {@value CausalLmLoss#IGNORE_INDEX} where no loss is taken ({@link Packing#lossLabels})
 * @param positions [B, T]
 * @param mask      attention mask (padding, segments)
 * @param keep      [B, T], 1 for real tokens
 * @param classes   [B] class labels for classification rows, else null
 * @param tokens    real tokens in the batch, for throughput
 */
public record TrainingBatch(NDArray inputIds, NDArray labels, NDArray positions, AttentionMask mask, NDArray keep,
                            NDArray classes, long tokens) {

    public static TrainingBatch of(List<TokenizedRow> rows, long padTokenId, NDManager manager) {
        int length = rows.stream().mapToInt(TokenizedRow::length).max().orElseThrow();
        int batch = rows.size();
        long[][] ids = new long[batch][length];
        long[][] labels = new long[batch][length];
        long[][] positions = new long[batch][length];
        long[][] keep = new long[batch][length];
        long[][] segments = new long[batch][length];
        boolean packed = false;
        long[] classes = new long[batch];
        boolean classification = rows.get(0).label() != null;
        long tokens = 0;
        for (int b = 0; b < batch; b++) {
            TokenizedRow row = rows.get(b);
            if ((row.label() != null) != classification) {
                throw new IllegalArgumentException("a micro-batch mixes classification rows and token rows");
            }
            classes[b] = classification ? row.label() : 0;
            int n = row.length();
            Arrays.fill(ids[b], padTokenId);
            Arrays.fill(labels[b], CausalLmLoss.IGNORE_INDEX);
            System.arraycopy(row.inputIds(), 0, ids[b], 0, n);
            System.arraycopy(Packing.lossLabels(row), 0, labels[b], 0, n);
            System.arraycopy(Packing.positionIds(row), 0, positions[b], 0, n);
            System.arraycopy(Packing.keep(row), 0, keep[b], 0, n);
            if (row.segmentIds() != null) {
                System.arraycopy(row.segmentIds(), 0, segments[b], 0, n);
                packed = true;
            } else {
                Arrays.fill(segments[b], 0, n, 1);
            }
            tokens += Arrays.stream(keep[b]).sum();
        }
        NDArray keepArray = manager.create(keep);
        AttentionMask mask = AttentionMask.causal(keepArray);
        if (packed) {
            mask = mask.withSegments(manager.create(segments));
        }
        return new TrainingBatch(manager.create(ids), manager.create(labels), manager.create(positions), mask, keepArray,
                classification ? manager.create(classes) : null, tokens);
    }
}
