package dev.sparktune.ml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.EncodedBatch;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.LossSums;
import dev.sparktune.train.TrainingBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * Inference on one batch of rows with an executor's {@link LoadedModel}, no Spark involved. Each batch runs
 * in its own sub-manager, closed at the end, so native memory stays flat over a partition; the weights
 * never require gradients, so no autograd graph is recorded.
 */
public final class BatchScorer {
    private BatchScorer() {
    }

    /**
     * Token ids of each text with the model's special tokens; a classifier's are cut to {@code maxLength} tokens
     * (0: the tokenizer's model_max_length), of which the last {@code tailLength} come from the end of a longer text,
     * as the tokenize stage cuts them to data.cutoff_len and data.cutoff_tail_len.
     */
    public static List<long[]> encode(Tokenizer tokenizer, List<String> texts, boolean classifier, int maxLength,
                                      int tailLength) {
        List<long[]> out = new ArrayList<>(texts.size());
        if (!classifier) {
            // a language model's loss is over the whole text: never truncated
            texts.forEach(t -> out.add(tokenizer.encode(t)));
            return out;
        }
        if (maxLength == 0 && tailLength > 0) {
            throw new IllegalArgumentException("a tail length (" + tailLength + ") needs a maximum length to cut to");
        }
        EncodedBatch batch = maxLength > 0 ? tokenizer.encodeBatch(texts, maxLength, tailLength)
                : tokenizer.encodeBatch(texts);
        for (int i = 0; i < batch.size(); i++) {
            long[] ids = batch.inputIds()[i];
            long[] keep = batch.attentionMask()[i];
            long[] real = new long[(int) java.util.Arrays.stream(keep).sum()];
            int n = 0;
            for (int t = 0; t < ids.length; t++) {
                if (keep[t] == 1) {
                    real[n++] = ids[t];
                }
            }
            out.add(real);
        }
        return out;
    }

    /**
     * Class probabilities of each row, softmax of the {@code classifier} head's logits (taken in float64),
     * [rows][labels]. Rows are right-padded; padding is masked out of attention and pooling.
     */
    public static double[][] classProbabilities(Bert model, List<long[]> rows, NDManager parent) {
        int length = rows.stream().mapToInt(r -> r.length).max().orElseThrow();
        long[][] ids = new long[rows.size()][length];
        long[][] keep = new long[rows.size()][length];
        long[][] positions = new long[rows.size()][length];
        for (int b = 0; b < rows.size(); b++) {
            long[] row = rows.get(b);
            for (int t = 0; t < length; t++) {
                ids[b][t] = t < row.length ? row[t] : 0;
                keep[b][t] = t < row.length ? 1 : 0;
                positions[b][t] = t;
            }
        }
        try (NDManager step = parent.newSubManager()) {
            NDArray keepArray = step.create(keep);
            NDArray hidden = model.hiddenStates(step.create(ids), null, step.create(positions),
                    AttentionMask.bidirectional(keepArray));
            NDArray logits = model.classify(hidden, keepArray);
            NDArray probabilities = logits.toType(DataType.FLOAT64, false).softmax(-1);
            int labels = (int) probabilities.getShape().get(1);
            double[] flat = probabilities.toDoubleArray();
            double[][] out = new double[rows.size()][];
            for (int b = 0; b < out.length; b++) {
                out[b] = java.util.Arrays.copyOfRange(flat, b * labels, (b + 1) * labels);
            }
            return out;
        }
    }

    /**
     * Mean next-token cross-entropy of each row over its scored tokens (Hugging Face's causal-LM convention,
     * {@link CausalLmLoss}: labels -100 and the first token are not scored; packed rows never predict across a
     * segment boundary); null for a row with no scored token.
     */
    static Double[] meanTokenLosses(Llama model, List<TokenizedRow> rows, NDManager parent) {
        try (NDManager step = parent.newSubManager()) {
            TrainingBatch batch = TrainingBatch.of(rows, 0, step);
            NDArray logits = model.logits(batch.inputIds(), batch.positions(), batch.mask(), null);
            LossSums sums = CausalLmLoss.FLOAT32.perRow(logits, batch.labels());
            double[] total = sums.sums().toType(DataType.FLOAT64, false).toDoubleArray();
            double[] counts = sums.counts().toType(DataType.FLOAT64, false).toDoubleArray();
            Double[] out = new Double[rows.size()];
            for (int b = 0; b < out.length; b++) {
                out[b] = counts[b] > 0 ? total[b] / counts[b] : null;
            }
            return out;
        }
    }
}
