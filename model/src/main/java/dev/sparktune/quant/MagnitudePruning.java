package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One-shot magnitude pruning of weight matrices, per matrix (layer-wise, as in Han et al. 2015 and the "magnitude"
 * baseline of Wanda and SparseGPT):
 * <ul>
 *   <li>{@link Pattern#UNSTRUCTURED}: the round(sparsity x n) entries of smallest |w| of an n-entry matrix become 0
 *       (on ties the earlier ones);</li>
 *   <li>{@link Pattern#TWO_FOUR}: in every group of 4 consecutive weights along the input dimension (a row of the
 *       [out, in] matrix), the 2 of smallest |w| become 0 (on ties the earlier ones), NVIDIA's 2:4 semi-structured
 *       sparsity, which fixes the sparsity at 0.5.</li>
 * </ul>
 * Done on the host in float32, exact: the only arithmetic is |w| comparisons.
 */
public final class MagnitudePruning {

    /** How the zeros are placed. */
    public enum Pattern {
        UNSTRUCTURED("unstructured"), TWO_FOUR("2:4");

        private final String key;

        Pattern(String key) {
            this.key = key;
        }

        /** The value of {@code export.prune_pattern}. */
        public String key() {
            return key;
        }

        public static Pattern of(String key) {
            return Arrays.stream(values()).filter(p -> p.key.equals(key)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("prune pattern '" + key + "': choose unstructured or 2:4"));
        }
    }

    /**
     * The pruned weights and what was counted over the pruned matrices afterwards.
     *
     * @param weights  every tensor, the pruned matrices replaced (float32) and the rest as they were
     * @param zeros    entries equal to 0 in the pruned matrices, after pruning (earlier zeros included)
     * @param elements entries of the pruned matrices
     */
    public record Result(Map<String, NDArray> weights, long zeros, long elements) {
        /** zeros / elements. */
        public double sparsity() {
            return elements == 0 ? 0 : (double) zeros / elements;
        }
    }

    private MagnitudePruning() {
    }

    /** Prunes {@code <module>.weight} of each of {@code modules}; new arrays belong to {@code manager}. */
    public static Result prune(Map<String, NDArray> weights, List<String> modules, double sparsity, Pattern pattern,
                               NDManager manager) {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
        }
        if (pattern == Pattern.TWO_FOUR && sparsity != 0.5) {
            throw new IllegalArgumentException("2:4 pruning zeroes 2 of every 4 weights, a sparsity of 0.5; got " + sparsity);
        }
        Map<String, NDArray> out = new LinkedHashMap<>(weights);
        long zeros = 0;
        long elements = 0;
        for (String module : modules) {
            String name = module + ".weight";
            NDArray w = weights.get(name);
            if (w == null || w.getShape().dimension() != 2 || !w.getDataType().isFloating()) {
                throw new IllegalArgumentException(name + ": pruning needs a 2-D float weight matrix, got "
                        + (w == null ? "no such tensor" : w.getDataType() + " " + w.getShape()));
            }
            float[] values = floats(w);
            if (pattern == Pattern.TWO_FOUR) {
                twoFour(values, Math.toIntExact(w.getShape().get(1)), name);
            } else {
                unstructured(values, Math.round(sparsity * values.length));
            }
            for (float v : values) {
                zeros += v == 0 ? 1 : 0;
            }
            elements += values.length;
            out.put(name, manager.create(values, w.getShape()));
        }
        return new Result(out, zeros, elements);
    }

    private static float[] floats(NDArray w) {
        if (w.getDataType() == DataType.FLOAT32) {
            return w.toFloatArray();
        }
        try (NDArray copy = w.toType(DataType.FLOAT32, true)) {
            return copy.toFloatArray();
        }
    }

    /** Zeroes the {@code k} entries of smallest |w|: those below the k-th smallest |w|, then ties in position order. */
    static void unstructured(float[] w, long k) {
        if (k <= 0) {
            return;
        }
        float[] magnitudes = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            magnitudes[i] = Math.abs(w[i]);
        }
        Arrays.sort(magnitudes);
        float threshold = magnitudes[Math.toIntExact(k - 1)];
        long below = 0;
        for (float v : w) {
            below += Math.abs(v) < threshold ? 1 : 0;
        }
        long ties = k - below;
        for (int i = 0; i < w.length; i++) {
            float m = Math.abs(w[i]);
            if (m < threshold) {
                w[i] = 0;
            } else if (m == threshold && ties > 0) {
                w[i] = 0;
                ties--;
            }
        }
    }

    /** In each group of 4 along a row of width {@code in}, zeroes the 2 of smallest |w| (the earlier on ties). */
    static void twoFour(float[] w, int in, String name) {
        if (in % 4 != 0) {
            throw new IllegalArgumentException(name + ": 2:4 pruning groups 4 weights along the input dimension, which"
                    + " is " + in + ", not a multiple of 4; use export.prune_pattern: unstructured");
        }
        float[] group = new float[4];
        for (int g = 0; g < w.length; g += 4) {
            System.arraycopy(w, g, group, 0, 4);
            for (int i = 0; i < 4; i++) {
                int rank = 0;       // how many of the group come before entry i in (|w|, position) order
                for (int j = 0; j < 4; j++) {
                    float a = Math.abs(group[j]);
                    float b = Math.abs(group[i]);
                    rank += a < b || (a == b && j < i) ? 1 : 0;
                }
                if (rank < 2) {
                    w[g + i] = 0;
                }
            }
        }
    }
}
