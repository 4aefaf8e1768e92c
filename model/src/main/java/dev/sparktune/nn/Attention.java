package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;

/** Scaled dot-product attention (Vaswani et al., 2017) with grouped-query key/value heads. */
public final class Attention {
    private Attention() {
    }

    /**
     * softmax(q k^T / sqrt(d) + mask) v.
     *
     * @param q    [B, heads, T, d]
     * @param k    [B, kvHeads, S, d]; kvHeads divides heads (grouped-query attention, Ainslie et al., 2023)
     * @param v    [B, kvHeads, S, d]
     * @param mask additive, broadcastable to [B, heads, T, S]
     * @return [B, heads, T, d]
     */
    public static NDArray scaledDotProduct(NDArray q, NDArray k, NDArray v, NDArray mask) {
        return scaledDotProduct(q, k, v, mask, UnaryOperator.identity());
    }

    /** As above, with {@code probabilityDropout} applied to the attention weights (training only). */
    public static NDArray scaledDotProduct(NDArray q, NDArray k, NDArray v, NDArray mask,
                                           UnaryOperator<NDArray> probabilityDropout) {
        long heads = q.getShape().get(1);
        long kvHeads = k.getShape().get(1);
        if (heads != kvHeads) {
            // Each key/value head serves heads/kvHeads consecutive query heads, as Hugging Face's repeat_kv.
            k = k.repeat(1, heads / kvHeads);
            v = v.repeat(1, heads / kvHeads);
        }
        double scale = 1.0 / Math.sqrt(q.getShape().get(3));
        NDArray scores = Scalars.times(q.matMul(k.transpose(0, 1, 3, 2)), scale).add(mask);
        return probabilityDropout.apply(scores.softmax(-1)).matMul(v);
    }

    /** [B, T, heads * d] to [B, heads, T, d]. */
    public static NDArray splitHeads(NDArray x, long heads) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        return x.reshape(b, t, heads, -1).transpose(0, 2, 1, 3);
    }

    /** [B, heads, T, d] to [B, T, heads * d]. */
    public static NDArray mergeHeads(NDArray x) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(2);
        return x.transpose(0, 2, 1, 3).reshape(b, t, -1);
    }
}
