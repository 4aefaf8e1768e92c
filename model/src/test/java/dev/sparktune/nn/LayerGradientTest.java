package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** Every layer's backward against central finite differences in float64 (relative error <= 1e-6). */
class LayerGradientTest {

    @Test
    void linear() {
        new GradientCheck(1)
                .param("x", new Shape(2, 3, 5), 1.0)
                .param("w", new Shape(4, 5), 0.5)
                .param("b", new Shape(4), 0.5)
                .check(p -> Linear.linear(p.get("x"), p.get("w"), p.get("b")));
    }

    @Test
    void rmsNorm() {
        new GradientCheck(2)
                .param("x", new Shape(2, 3, 8), 1.0)
                .param("w", new Shape(8), 1.0)
                .check(p -> Norms.rmsNorm(p.get("x"), p.get("w"), 1e-6));
    }

    @Test
    void layerNorm() {
        new GradientCheck(3)
                .param("x", new Shape(2, 3, 8), 1.0)
                .param("w", new Shape(8), 1.0)
                .param("b", new Shape(8), 1.0)
                .check(p -> Norms.layerNorm(p.get("x"), p.get("w"), p.get("b"), 1e-12));
    }

    @Test
    void activations() {
        for (String act : new String[] {"silu", "gelu", "gelu_new", "relu"}) {
            new GradientCheck(4)
                    .param("x", new Shape(3, 7), 1.5)
                    .check(p -> Activations.byName(act, p.get("x")));
        }
    }

    @Test
    void rotaryEmbedding() {
        Rope llama3 = Rope.llama3(8, 10000.0, 8.0, 1.0, 4.0, 16);
        new GradientCheck(5)
                .param("q", new Shape(2, 3, 5, 8), 1.0)
                .check(p -> {
                    NDArray q = p.get("q");
                    NDArray positions = q.getManager().arange(0L, 5L, 1L, DataType.INT64).reshape(1, 5).repeat(0, 2).add(7);
                    return llama3.tables(positions, DataType.FLOAT64).apply(q);
                });
    }

    @Test
    void groupedQueryAttentionWithPaddingAndCausalMask() {
        new GradientCheck(6)
                .param("q", new Shape(2, 4, 5, 6), 1.0)
                .param("k", new Shape(2, 2, 5, 6), 1.0)
                .param("v", new Shape(2, 2, 5, 6), 1.0)
                .check(p -> {
                    NDManager m = p.get("q").getManager();
                    NDArray keep = m.create(new long[][] {{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}});
                    NDArray mask = AttentionMask.causal(keep).additive(m, 5, 0, DataType.FLOAT64);
                    NDArray out = Attention.scaledDotProduct(p.get("q"), p.get("k"), p.get("v"), mask);
                    // A padding query sees no key at all; its output is unused (losses skip padding), and
                    // its derivative is zero numerically but not symbolically, so it is left out here.
                    return out.mul(keep.reshape(2, 1, 5, 1).toType(DataType.FLOAT64, false));
                });
    }

    @Test
    void attentionOverPackedSegments() {
        new GradientCheck(7)
                .param("q", new Shape(1, 2, 6, 4), 1.0)
                .param("k", new Shape(1, 2, 6, 4), 1.0)
                .param("v", new Shape(1, 2, 6, 4), 1.0)
                .check(p -> {
                    NDManager m = p.get("q").getManager();
                    NDArray segments = m.create(new long[][] {{1, 1, 1, 2, 2, 3}});
                    NDArray mask = AttentionMask.bidirectional(null).withSegments(segments).additive(m, 6, 0, DataType.FLOAT64);
                    return Attention.scaledDotProduct(p.get("q"), p.get("k"), p.get("v"), mask);
                });
    }
}
