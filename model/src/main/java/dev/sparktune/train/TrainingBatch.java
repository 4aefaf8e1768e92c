package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import java.util.List;

/**
 * Tokenized rows as tensors for one micro-batch, right-padded to the longest row. A packed row
 * (with segment ids) gets positions restarting per segment, a block-diagonal mask and no
 * prediction across a segment boundary; a row without labels trains on its own tokens
 * (continued pretraining).
 *
 * @param inputIds  [B, T]
 * @param labels    [B, T], {@value CausalLmLoss#IGNORE_INDEX} where no loss is taken
 * @param positions [B, T]
 * @param mask      attention mask (padding, segments)
 * @param keep      [B, T], 1 for real tokens
 * @param classes   [B] class labels for classification rows, else null
 * @param tokens    real tokens in the batch, for throughput
 */
public record TrainingBatch(NDArray inputIds, NDArray labels, NDArray positions, AttentionMask mask, NDArray keep,
                            NDArray classes, long tokens) {

    public static TrainingBatch of(List<TokenizedRow> rows, long padTokenId, NDManager manager) {
        int length = rows.stream().mapToInt(r -> r.inputIds().length).max().orElseThrow();
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
            java.util.Arrays.fill(ids[b], padTokenId);
            java.util.Arrays.fill(labels[b], CausalLmLoss.IGNORE_INDEX);
            long segmentStart = 0;
            for (int t = 0; t < row.inputIds().length; t++) {
                long segment = row.segmentIds() == null ? 1 : row.segmentIds()[t];
                if (t > 0 && row.segmentIds() != null && segment != row.segmentIds()[t - 1]) {
                    segmentStart = t;
                }
                boolean real = segment != 0;
                ids[b][t] = row.inputIds()[t];
                keep[b][t] = real ? 1 : 0;
                segments[b][t] = segment;
                positions[b][t] = real ? t - segmentStart : 0;
                long label = row.labels() == null ? row.inputIds()[t] : row.labels()[t];
                // the first token of a segment is never predicted from the previous segment
                boolean segmentStartsHere = row.segmentIds() != null && t == segmentStart && t > 0;
                labels[b][t] = real && !segmentStartsHere ? label : CausalLmLoss.IGNORE_INDEX;
                tokens += real ? 1 : 0;
            }
            packed |= row.segmentIds() != null;
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
