package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * AdamW, Lion and SGD over 10 steps, with weight decay, parameter groups and clipping that
 * triggers on some steps, against the papers' / PyTorch's update written out in plain doubles.
 */
class OptimizerReferenceTest {

    private static final int STEPS = 10;
    private static final double WEIGHT_DECAY = 0.1;
    private static final double LORA_PLUS = 4;

    /** name, shape, and the group settings the reference expects (written out, not asked of ParameterGroups) */
    private record Tensor(String name, long[] shape, double lrScale, double weightDecay) {
        int size() {
            return (int) new Shape(shape).size();
        }
    }

    private static final List<Tensor> TENSORS = List.of(
            new Tensor("encoder.layer.0.dense.weight", new long[] {3, 4}, 1, WEIGHT_DECAY),
            new Tensor("encoder.layer.0.dense.bias", new long[] {3}, 1, 0),
            new Tensor("encoder.layer.0.output.LayerNorm.weight", new long[] {5}, 1, 0),
            new Tensor("encoder.layer.0.query.lora_B.weight", new long[] {4, 2}, LORA_PLUS, WEIGHT_DECAY));

    private static final ParameterGroups GROUPS = ParameterGroups.huggingFace(WEIGHT_DECAY).withLoraPlus(LORA_PLUS);

    /** The reference's per-tensor numbers: parameter and up to two state vectors. */
    private static final class Ref {
        final double[] p;
        final double[] s1;
        final double[] s2;

        Ref(double[] p) {
            this.p = p.clone();
            this.s1 = new double[p.length];
            this.s2 = new double[p.length];
        }
    }

    private interface ReferenceUpdate {
        void apply(Ref r, double[] g, int t, double lr, double wd);
    }

    @Test
    void adamWMatchesTheClosedForm() {
        double b1 = 0.9;
        double b2 = 0.999;
        // large enough that adding it before or after the bias correction of sqrt(v) differs by more than 1e-6
        double eps = 1e-3;
        check(new AdamW(b1, b2, eps), (r, g, t, lr, wd) -> {
            double bc1 = 1 - Math.pow(b1, t);
            double bc2 = 1 - Math.pow(b2, t);
            for (int i = 0; i < g.length; i++) {
                r.p[i] -= lr * wd * r.p[i];
                r.s1[i] = b1 * r.s1[i] + (1 - b1) * g[i];
                r.s2[i] = b2 * r.s2[i] + (1 - b2) * g[i] * g[i];
                double mHat = r.s1[i] / bc1;
                double vHat = r.s2[i] / bc2;
                r.p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
        }, "exp_avg", "exp_avg_sq");
    }

    @Test
    void lionMatchesTheClosedForm() {
        double b1 = 0.9;
        double b2 = 0.99;
        check(new Lion(b1, b2), (r, g, t, lr, wd) -> {
            for (int i = 0; i < g.length; i++) {
                double c = b1 * r.s1[i] + (1 - b1) * g[i];
                r.p[i] -= lr * (Math.signum(c) + wd * r.p[i]);
                r.s1[i] = b2 * r.s1[i] + (1 - b2) * g[i];
            }
        }, "exp_avg");
    }

    @Test
    void sgdWithMomentumMatchesTheClosedForm() {
        double momentum = 0.9;
        check(new Sgd(momentum), (r, g, t, lr, wd) -> {
            for (int i = 0; i < g.length; i++) {
                double d = g[i] + wd * r.p[i];
                r.s1[i] = momentum * r.s1[i] + d;
                r.p[i] -= lr * r.s1[i];
            }
        }, "momentum_buffer");
    }

    private static void check(UpdateRule rule, ReferenceUpdate reference, String... slotNames) {
        Random random = new Random(20240611);
        Map<String, double[]> initial = new LinkedHashMap<>();
        for (Tensor t : TENSORS) {
            initial.put(t.name(), gaussian(random, t.size(), 1.0));
        }
        // gradients of very different sizes per step, so that clipping at their median norm triggers on half the steps
        List<Map<String, double[]>> grads = new ArrayList<>();
        double[] referenceNorms = new double[STEPS];
        for (int step = 0; step < STEPS; step++) {
            double scale = 0.2 + 3 * random.nextDouble();
            Map<String, double[]> g = new LinkedHashMap<>();
            double squares = 0;
            for (Tensor t : TENSORS) {
                double[] values = gaussian(random, t.size(), scale);
                g.put(t.name(), values);
                for (double v : values) {
                    squares += v * v;
                }
            }
            grads.add(g);
            referenceNorms[step] = Math.sqrt(squares);
        }
        double[] sorted = referenceNorms.clone();
        Arrays.sort(sorted);
        double maxNorm = (sorted[STEPS / 2 - 1] + sorted[STEPS / 2]) / 2;
        double[] lrs = new double[STEPS];
        for (int step = 0; step < STEPS; step++) {
            lrs[step] = 0.01 * (1 + step % 3);
        }

        Map<String, Ref> expected = new LinkedHashMap<>();
        initial.forEach((name, values) -> expected.put(name, new Ref(values)));
        int clipped = 0;
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer optimizer = new Optimizer(rule, GROUPS, manager)) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (Tensor t : TENSORS) {
                NDArray p = manager.create(initial.get(t.name()), new Shape(t.shape()));
                p.setRequiresGradient(true);
                params.put(t.name(), p);
            }

            for (int step = 0; step < STEPS; step++) {
                GivenGradients.set(params, grads.get(step));
                double norm = Gradients.clipByGlobalNorm(params, maxNorm);
                optimizer.step(params, lrs[step]);

                // the reference: clip_grad_norm_, then the rule with each tensor's group settings
                double coefficient = maxNorm / (referenceNorms[step] + 1e-6);
                clipped += coefficient < 1 ? 1 : 0;
                for (Tensor t : TENSORS) {
                    double[] g = grads.get(step).get(t.name()).clone();
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= Math.min(1, coefficient);
                    }
                    reference.apply(expected.get(t.name()), g, step + 1, lrs[step] * t.lrScale(), t.weightDecay());
                }

                assertRelativelyClose(referenceNorms[step], norm, "pre-clip norm at step " + step);
                for (Tensor t : TENSORS) {
                    assertClose(expected.get(t.name()).p, params.get(t.name()).toDoubleArray(), t.name() + " at step " + step);
                }
            }
            for (Tensor t : TENSORS) {
                Map<String, NDArray> slots = optimizer.state().slots(t.name());
                assertEquals(List.of(slotNames), List.copyOf(slots.keySet()));
                assertClose(expected.get(t.name()).s1, slots.get(slotNames[0]).toDoubleArray(), t.name() + "/" + slotNames[0]);
                if (slotNames.length > 1) {
                    assertClose(expected.get(t.name()).s2, slots.get(slotNames[1]).toDoubleArray(), t.name() + "/" + slotNames[1]);
                }
                assertEquals(STEPS, optimizer.state().step(t.name()));
            }
        }
        assertEquals(STEPS / 2, clipped, "clipping should trigger on the steps above the median norm");
    }

    static double[] gaussian(Random random, int n, double scale) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = scale * random.nextGaussian();
        }
        return out;
    }

    /** max |a - b| / max |expected| <= 1e-6, per tensor */
    static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        double diff = 0;
        double size = 0;
        for (int i = 0; i < expected.length; i++) {
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
            size = Math.max(size, Math.abs(expected[i]));
        }
        assertTrue(diff <= 1e-6 * size, what + ": relative error " + diff / size + "\nexpected " + Arrays.toString(expected)
                + "\nactual   " + Arrays.toString(actual));
    }

    private static void assertRelativelyClose(double expected, double actual, String what) {
        assertTrue(Math.abs(expected - actual) <= 1e-6 * Math.abs(expected), what + ": expected " + expected + ", got " + actual);
    }
}
