package dev.sparktune.ml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * What the scores should be, computed in the test JVM from the same files without Spark: one row at a time
 * (no batching, no padding), packed segments run one by one, softmax and cross-entropy in double here.
 */
public final class SingleProcessReference {
    private SingleProcessReference() {
    }

    /** Class probabilities of each text (null for a null text). */
    public static double[][] classProbabilities(Path modelDir, Path adapterDir, List<String> texts) {
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizer.load(modelDir)) {
            PretrainedModel base = ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32);
            Bert bert = (Bert) (adapterDir == null ? base : PeftFormat.load(adapterDir, base, manager).model(false));
            double[][] out = new double[texts.size()][];
            for (int i = 0; i < out.length; i++) {
                if (texts.get(i) == null) {
                    continue;
                }
                long[] ids = tokenizer.encode(texts.get(i));
                try (NDManager step = manager.newSubManager()) {
                    NDArray keep = step.ones(new Shape(1, ids.length), DataType.INT64);
                    NDArray positions = step.arange(0L, ids.length, 1L, DataType.INT64).reshape(1, -1);
                    NDArray hidden = bert.hiddenStates(step.create(new long[][] {ids}), null, positions,
                            AttentionMask.bidirectional(keep));
                    out[i] = softmax(bert.classify(hidden, keep).toType(DataType.FLOAT64, false).toDoubleArray());
                }
            }
            return out;
        }
    }

    /**
     * Mean next-token cross-entropy of each {input_ids, labels, segment_ids} row: labels -100 and each
     * segment's first token not scored, segment 0 (padding) skipped; null where nothing is scored.
     */
    static Double[] meanTokenLosses(Path modelDir, List<long[][]> rows) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Llama llama = (Llama) ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32);
            Double[] out = new Double[rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                long[] ids = rows.get(r)[0];
                if (ids == null) {
                    continue;
                }
                long[] labels = rows.get(r)[1] == null ? ids : rows.get(r)[1];
                long[] segments = rows.get(r)[2];
                double sum = 0;
                int count = 0;
                int start = 0;
                while (start < ids.length) {
                    int end = start + 1;
                    while (segments != null && end < ids.length && segments[end] == segments[start]) {
                        end++;
                    }
                    if (segments == null) {
                        end = ids.length;
                    }
                    if (segments == null || segments[start] != 0) {
                        double[][] logits = logits(llama, Arrays.copyOfRange(ids, start, end), manager);
                        for (int t = 0; t + 1 < end - start; t++) {
                            long target = labels[start + t + 1];
                            if (target != -100) {
                                sum += logSumExp(logits[t]) - logits[t][(int) target];
                                count++;
                            }
                        }
                    }
                    start = end;
                }
                out[r] = count == 0 ? null : sum / count;
            }
            return out;
        }
    }

    private static double[][] logits(Llama llama, long[] ids, NDManager manager) {
        try (NDManager step = manager.newSubManager()) {
            NDArray positions = step.arange(0L, ids.length, 1L, DataType.INT64).reshape(1, -1);
            NDArray logits = llama.logits(step.create(new long[][] {ids}), positions, AttentionMask.causal(null), null);
            int vocab = (int) logits.getShape().get(2);
            double[] flat = logits.toType(DataType.FLOAT64, false).toDoubleArray();
            double[][] out = new double[ids.length][];
            for (int t = 0; t < ids.length; t++) {
                out[t] = Arrays.copyOfRange(flat, t * vocab, (t + 1) * vocab);
            }
            return out;
        }
    }

    private static double[] softmax(double[] logits) {
        double norm = logSumExp(logits);
        return Arrays.stream(logits).map(l -> Math.exp(l - norm)).toArray();
    }

    private static double logSumExp(double[] values) {
        double max = Arrays.stream(values).max().orElseThrow();
        return max + Math.log(Arrays.stream(values).map(v -> Math.exp(v - max)).sum());
    }
}
