package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.sparktune.io.TokenizedRow;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The causal-LM loss against the same sums written out in plain Java doubles, log-softmax by hand. */
class CausalLmLossTest {
    private static final long X = CausalLmLoss.IGNORE_INDEX;
    private static final int B = 3;
    private static final int T = 6;
    private static final int V = 7;

    // row 0: a pretraining row; row 1: SFT, prompt masked; row 2: nothing scored at all
    private static final long[][] LABELS = {
            {4, 1, 6, 0, 3, 2},
            {X, X, X, 5, 2, 6},
            {3, X, X, X, X, X}};
    private static final long[][] SEGMENTS = {
            {1, 1, 1, 2, 2, 0},
            {1, 1, 2, 2, 2, 3},
            {1, 1, 1, 1, 1, 1}};

    private NDManager manager;
    private double[][][] logits;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
        Random random = new Random(5);
        logits = new double[B][T][V];
        for (double[][] row : logits) {
            for (double[] position : row) {
                for (int v = 0; v < V; v++) {
                    position[v] = 3 * random.nextGaussian();
                }
            }
        }
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** -log softmax(z)[k], with the max subtracted first. */
    private static double nll(double[] z, long k) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum) - z[(int) k];
    }

    /** Sums and counts per row (column 0) or per segment (column s) from position t predicting label t + 1. */
    private double[][][] reference(long[][] labels, long[][] segments) {
        double[][] sums = new double[B][T + 1];
        double[][] counts = new double[B][T + 1];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t + 1 < T; t++) {
                long label = labels[b][t + 1];
                if (label != X) {
                    int column = segments == null ? 0 : (int) segments[b][t + 1];
                    sums[b][column] += nll(logits[b][t], label);
                    counts[b][column]++;
                }
            }
        }
        return new double[][][] {sums, counts};
    }

    private NDArray logitsArray(DataType dtype) {
        double[] flat = Arrays.stream(logits).flatMap(Arrays::stream).flatMapToDouble(Arrays::stream).toArray();
        return manager.create(flat, new Shape(B, T, V)).toType(dtype, false);
    }

    @Test
    void meanAndPerRowMatchPlainJavaInFloat64AndFloat32() {
        double[][][] ref = reference(LABELS, null);
        double total = 0;
        double scored = 0;
        for (int b = 0; b < B; b++) {
            total += ref[0][b][0];
            scored += ref[1][b][0];
        }
        assertEquals(8, scored, "5 + 3 + 0 predicted labels");

        NDArray labels = manager.create(LABELS);
        double mean64 = CausalLmLoss.FLOAT64.mean(logitsArray(DataType.FLOAT64), labels).getDouble();
        assertEquals(total / scored, mean64, 1e-12);
        double mean32 = CausalLmLoss.FLOAT32.mean(logitsArray(DataType.FLOAT32), labels).toType(DataType.FLOAT64, false)
                .getDouble();
        assertEquals(total / scored, mean32, 1e-5);

        LossSums rows = CausalLmLoss.FLOAT64.perRow(logitsArray(DataType.FLOAT64), labels);
        double[] sums = rows.sums().toDoubleArray();
        double[] counts = rows.counts().toDoubleArray();
        double[] means = rows.means().toDoubleArray();
        for (int b = 0; b < B; b++) {
            assertEquals(ref[0][b][0], sums[b], 1e-12);
            assertEquals(ref[1][b][0], counts[b]);
            assertEquals(ref[1][b][0] == 0 ? 0 : ref[0][b][0] / ref[1][b][0], means[b], 1e-12);
        }
    }

    @Test
    void tokenLossesAreShiftedByOneAndZeroWhereIgnored() {
        NDArray losses = CausalLmLoss.FLOAT64.tokenLosses(logitsArray(DataType.FLOAT64), manager.create(LABELS));
        assertEquals(new Shape(B, T - 1), losses.getShape());
        double[] flat = losses.toDoubleArray();
        for (int b = 0; b < B; b++) {
            for (int t = 0; t + 1 < T; t++) {
                long label = LABELS[b][t + 1];
                double expected = label == X ? 0 : nll(logits[b][t], label);
                assertEquals(expected, flat[b * (T - 1) + t], 1e-12, "row " + b + " position " + t);
            }
        }
    }

    @Test
    void perSegmentSumsEachPredictionIntoTheSegmentOfItsLabel() {
        double[][][] ref = reference(LABELS, SEGMENTS);
        LossSums segments = CausalLmLoss.FLOAT64.perSegment(logitsArray(DataType.FLOAT64), manager.create(LABELS),
                manager.create(SEGMENTS), 3);
        assertEquals(new Shape(B, 3), segments.sums().getShape());
        double[] sums = segments.sums().toDoubleArray();
        double[] counts = segments.counts().toDoubleArray();
        for (int b = 0; b < B; b++) {
            for (int s = 1; s <= 3; s++) {
                assertEquals(ref[0][b][s], sums[b * 3 + s - 1], 1e-12, "row " + b + " segment " + s);
                assertEquals(ref[1][b][s], counts[b * 3 + s - 1], "row " + b + " segment " + s);
            }
        }
    }

    @Test
    void gradientIsSoftmaxMinusOneHotOverTheScoredCountAndZeroElsewhere() {
        NDArray x = logitsArray(DataType.FLOAT64);
        x.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(CausalLmLoss.FLOAT64.mean(x, manager.create(LABELS)));
        }
        double[] grad = x.getGradient().toDoubleArray();
        double scored = 8;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                long label = t + 1 < T ? LABELS[b][t + 1] : X;
                for (int v = 0; v < V; v++) {
                    double expected = 0;
                    if (label != X) {
                        double p = Math.exp(-nll(logits[b][t], v));
                        expected = (p - (v == label ? 1 : 0)) / scored;
                    }
                    assertEquals(expected, grad[(b * T + t) * V + v], 1e-12, b + "," + t + "," + v);
                }
            }
        }
    }

    @Test
    void aBatchWithNothingScoredHasLossZeroNotNaN() {
        long[][] none = {{X, X, X}, {7, X, X}};
        NDArray loss = CausalLmLoss.FLOAT32.mean(manager.randomNormal(new Shape(2, 3, V)), manager.create(none));
        assertEquals(0.0, loss.toType(DataType.FLOAT64, false).getDouble());
    }

    @Test
    void pretrainingLabelsAreTheInputIds() {
        TokenizedRow sample = TokenizedRow.pretraining(new long[] {5, 9, 2});
        assertArrayEquals(new long[] {5, 9, 2}, sample.labels());
        assertEquals(2, CausalLmLoss.predictedTokens(sample));
        assertTrue(sample.labels() != sample.inputIds(), "labels must not alias the ids");
    }
}
