package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Label smoothing and class weights against a double-precision reference written the other way round: the
 * cross-entropy against the smoothed target distribution, each class's term scaled by its weight, divided by the
 * summed weight of the true classes (PyTorch's weighted mean).
 */
class ClassificationLossTest {
    private static final int N = 7;
    private static final int C = 4;
    private static final long[] LABELS = {0, 3, 1, CausalLmLoss.IGNORE_INDEX, 2, 3, 1};
    private static final List<Double> WEIGHTS = List.of(0.5, 2.0, 1.0, 3.0);

    private NDManager manager;
    private double[][] logits;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
        Random random = new Random(3);
        logits = new double[N][C];
        for (double[] row : logits) {
            for (int c = 0; c < C; c++) {
                row[c] = 2 * random.nextGaussian();
            }
        }
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private double reference(double eps, List<Double> weights) {
        double numerator = 0;
        double denominator = 0;
        for (int i = 0; i < N; i++) {
            if (LABELS[i] == CausalLmLoss.IGNORE_INDEX) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (double v : logits[i]) {
                max = Math.max(max, v);
            }
            double logZ = 0;
            for (double v : logits[i]) {
                logZ += Math.exp(v - max);
            }
            logZ = max + Math.log(logZ);
            for (int c = 0; c < C; c++) {
                double target = (c == LABELS[i] ? 1 - eps : 0) + eps / C;
                double w = weights.isEmpty() ? 1 : weights.get(c);
                numerator += w * target * (logZ - logits[i][c]);
            }
            denominator += weights.isEmpty() ? 1 : weights.get((int) LABELS[i]);
        }
        return numerator / denominator;
    }

    private double loss(ClassificationLoss loss, DataType dtype) {
        NDArray x = manager.create(logits).toType(dtype, false);
        return loss.mean(x, manager.create(LABELS)).toType(DataType.FLOAT64, false).getDouble();
    }

    @Test
    void plainSmoothedWeightedAndBothMatchTheClosedForm() {
        for (double eps : new double[] {0, 0.1, 0.35}) {
            for (List<Double> weights : List.of(List.<Double>of(), WEIGHTS)) {
                ClassificationLoss loss = new ClassificationLoss(eps, weights);
                double expected = reference(eps, weights);
                assertEquals(expected, loss(loss, DataType.FLOAT64), 1e-12, loss.toString());
                assertEquals(expected, loss(loss, DataType.FLOAT32), 1e-5, loss.toString());
            }
        }
    }

    @Test
    void smoothingAndWeightsChangeTheLoss() {
        double plain = loss(ClassificationLoss.PLAIN, DataType.FLOAT64);
        assertTrue(Math.abs(plain - loss(new ClassificationLoss(0.1, List.of()), DataType.FLOAT64)) > 1e-3);
        assertTrue(Math.abs(plain - loss(new ClassificationLoss(0, WEIGHTS), DataType.FLOAT64)) > 1e-3);
    }

    /**
     * With equal logits every -log p is log C. Unweighted, that is the loss whatever the smoothing; weighted, PyTorch
     * divides the smoothing term by the true classes' weights too, so it scales by mean_c w[c] / mean_i w[y_i]:
     * here (0.5 + 2 + 1 + 3) / 4 = 1.625 over (0.5 + 3 + 2 + 1 + 3 + 2) / 6 = 11.5 / 6.
     */
    @Test
    void uniformLogitsCostLogCAndWeightsScaleOnlyTheSmoothingTerm() {
        NDArray zeros = manager.zeros(new Shape(N, C), DataType.FLOAT64);
        NDArray labels = manager.create(LABELS);
        assertEquals(Math.log(C), new ClassificationLoss(0.2, List.of()).mean(zeros, labels).getDouble(), 1e-12);
        assertEquals(Math.log(C), new ClassificationLoss(0, WEIGHTS).mean(zeros, labels).getDouble(), 1e-12);
        double expected = Math.log(C) * (0.8 + 0.2 * 1.625 / (11.5 / 6));
        assertEquals(expected, new ClassificationLoss(0.2, WEIGHTS).mean(zeros, labels).getDouble(), 1e-12);
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new ClassificationLoss(1.5, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new ClassificationLoss(0, List.of(1.0, -1.0)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ClassificationLoss(0, List.of(1.0, 2.0)).mean(manager.create(logits), manager.create(LABELS)));
        assertEquals("2 class weights for 4 classes", e.getMessage());
    }
}
