package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class GradientsTest {

    @Test
    void nonFiniteGradientsAreReportedByName() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> params = parameters(manager, DataType.FLOAT32, "encoder.dense.weight", "encoder.dense.bias",
                    "classifier.weight");
            GivenGradients.set(params, Map.of(
                    "encoder.dense.weight", new double[] {1, 2, 3},
                    "encoder.dense.bias", new double[] {0, Double.NaN, 0},
                    "classifier.weight", new double[] {Double.NEGATIVE_INFINITY, 0, 1}));
            assertEquals(List.of("classifier.weight", "encoder.dense.bias"), Gradients.nonFinite(params));

            Gradients.zero(params);
            assertEquals(List.of(), Gradients.nonFinite(params), "zeroing clears NaN and infinity too");
            params.values().forEach(p -> assertArrayEquals(new float[3], p.getGradient().toFloatArray()));
        }
    }

    @Test
    void clippingScalesAllGradientsToTheMaxNormAndReturnsTheNormBefore() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> params = parameters(manager, DataType.FLOAT64, "a", "b");
            // |(3, 0, 0, 0, 4, 12)| = 13
            GivenGradients.set(params, Map.of("a", new double[] {3, 0, 0}, "b", new double[] {0, 4, 12}));
            assertEquals(13.0, Gradients.globalNorm(params), 1e-12);
            assertEquals(13.0, Gradients.clipByGlobalNorm(params, 1.0), 1e-12);
            double c = 1.0 / (13.0 + 1e-6);
            assertArrayEquals(new double[] {3 * c, 0, 0}, params.get("a").getGradient().toDoubleArray(), 1e-15);
            assertArrayEquals(new double[] {0, 4 * c, 12 * c}, params.get("b").getGradient().toDoubleArray(), 1e-15);

            // under the limit, or with clipping off, the gradients stay as they are
            GivenGradients.set(params, Map.of("a", new double[] {3, 0, 0}, "b", new double[] {0, 4, 12}));
            assertEquals(13.0, Gradients.clipByGlobalNorm(params, 20.0), 1e-12);
            assertEquals(13.0, Gradients.clipByGlobalNorm(params, 0.0), 1e-12);
            assertArrayEquals(new double[] {0, 4, 12}, params.get("b").getGradient().toDoubleArray(), 0.0);

            assertThrows(IllegalArgumentException.class, () -> Gradients.clipByGlobalNorm(params, -1));
        }
    }

    private static Map<String, NDArray> parameters(NDManager manager, DataType dtype, String... names) {
        Map<String, NDArray> params = new TreeMap<>();
        for (String name : names) {
            NDArray p = manager.zeros(new Shape(3), dtype);
            p.setRequiresGradient(true);
            params.put(name, p);
        }
        return params;
    }
}
