package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.Casts;

/**
 * Next-token cross-entropy of a causal language model, for continued pretraining and SFT alike (they differ only in
 * which labels are ignored). Hugging Face's convention ({@code ForCausalLMLoss}): labels are aligned with the
 * input ids, the logits at position {@code t} are scored against the label at {@code t + 1} (logits[:, :-1] against
 * labels[:, 1:]), labels equal to {@value #IGNORE_INDEX} are skipped, and the mean is over the scored tokens.
 *
 * @param computeType the dtype of the log-softmax: float32 (Hugging Face upcasts half-precision logits to it) or
 *                    float64 for reference checks
 */
public record CausalLmLoss(DataType computeType) {

    /** PyTorch's default {@code ignore_index}, which Hugging Face datasets use for masked labels. */
    public static final long IGNORE_INDEX = -100;

    public static final CausalLmLoss FLOAT32 = new CausalLmLoss(DataType.FLOAT32);
    public static final CausalLmLoss FLOAT64 = new CausalLmLoss(DataType.FLOAT64);

    public CausalLmLoss {
        if (computeType != DataType.FLOAT32 && computeType != DataType.FLOAT64) {
            throw new IllegalArgumentException("the loss is computed in float32 or float64, not " + computeType);
        }
    }

    /** How many labels the loss scores in a row: those of {@link Packing#lossLabels} that are not ignored. */
    public static int predictedTokens(TokenizedRow row) {
        int n = 0;
        for (long label : Packing.lossLabels(row)) {
            if (label != IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    /**
     * The mean over every scored token of the batch, a scalar. A batch with no scored token (every label ignored)
     * gives 0 rather than PyTorch's 0/0 = NaN, so it adds nothing instead of stopping the run.
     *
     * @param logits [B, T, vocab]
     * @param labels [B, T] integer, {@value #IGNORE_INDEX} where nothing is learned
     */
    public NDArray mean(NDArray logits, NDArray labels) {
        Terms terms = terms(logits, labels);
        return terms.losses().sum().div(terms.scored().sum().maximum(1));
    }

    /**
     * Negative log-likelihood of each prediction, [B, T - 1]: entry {@code t} scores {@code labels[:, t + 1]}
     * from position {@code t}; 0 where that label is ignored.
     */
    public NDArray tokenLosses(NDArray logits, NDArray labels) {
        return terms(logits, labels).losses();
    }

    /** Loss sums and scored-token counts of each row, [B]. */
    public LossSums perRow(NDArray logits, NDArray labels) {
        Terms terms = terms(logits, labels);
        return new LossSums(terms.losses().sum(new int[] {1}), terms.scored().sum(new int[] {1}));
    }

    /**
     * Loss sums and counts of each packed segment, [B, segments]: column {@code s - 1} is segment {@code s}. A
     * prediction belongs to the segment of the label it predicts; labels must already be ignored at each segment's
     * first token (see {@link Packing#lossLabels}) so that no prediction crosses a boundary.
     *
     * @param segmentIds [B, T], 1.. per sample, 0 on padding
     * @param segments   the largest segment id in the batch
     */
    public LossSums perSegment(NDArray logits, NDArray labels, NDArray segmentIds, int segments) {
        Terms terms = terms(logits, labels);
        NDArray owner = segmentIds.get(new NDIndex(":, 1:")).toType(DataType.INT64, false)
                .oneHot(segments + 1, computeType);
        NDArray sums = terms.losses().expandDims(-1).mul(owner).sum(new int[] {1});
        NDArray counts = terms.scored().expandDims(-1).mul(owner).sum(new int[] {1});
        return new LossSums(sums.get(new NDIndex(":, 1:")), counts.get(new NDIndex(":, 1:")));
    }

    private Terms terms(NDArray logits, NDArray labels) {
        long length = logits.getShape().get(1);
        if (labels.getShape().get(1) != length) {
            throw new IllegalArgumentException("logits " + logits.getShape() + " and labels " + labels.getShape()
                    + " disagree on the sequence length");
        }
        // Every position is scored against the next label, the last against an ignored one, and the losses are cut
        // to [B, T - 1] afterwards. Slicing the logits instead would make backward zero-fill and copy a buffer of
        // the whole logits' size (for a 32 k vocabulary, most of the loss's time; see BENCHMARKS.md).
        NDArray next = labels.get(new NDIndex(":, 1:")).toType(DataType.INT64, false);
        NDArray targets = next.concat(next.getManager().full(new Shape(next.getShape().get(0), 1), (float) IGNORE_INDEX, DataType.INT64), 1);
        NDArray scored = targets.neq(IGNORE_INDEX);
        // ignored labels point at class 0 for the gather; their term is zeroed below
        NDArray classes = targets.mul(scored.toType(DataType.INT64, false));
        NDArray logProbs = Casts.to(logits, computeType).logSoftmax(-1).gather(classes.expandDims(-1), -1).squeeze(-1);
        NDArray weight = scored.toType(computeType, false);
        NDIndex predictions = new NDIndex(":, :{}", length - 1);
        return new Terms(logProbs.neg().mul(weight).get(predictions), weight.get(predictions));
    }

    /** Per-prediction losses (0 where ignored) and 1/0 whether each was scored, both [B, T - 1]. */
    private record Terms(NDArray losses, NDArray scored) {
    }
}
