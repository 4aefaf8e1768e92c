package dev.sparktune.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Magnitude pruning against its definition: which entries become zero, and how many. */
class MagnitudePruningTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private static float[] random(int n, long seed) {
        Random random = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) random.nextGaussian();
        }
        return w;
    }

    @ParameterizedTest(name = "sparsity {0}")
    @ValueSource(doubles = {0.1, 0.3, 0.5, 0.9})
    void unstructuredZeroesTheRoundedShareOfSmallestMagnitudesPerMatrix(double sparsity) {
        float[] a = random(37 * 11, 1);
        float[] b = random(8 * 12, 2);
        Map<String, NDArray> weights = Map.of("a.weight", manager.create(a, new Shape(37, 11)),
                "b.weight", manager.create(b, new Shape(8, 12)), "b.bias", manager.create(random(8, 3)));

        MagnitudePruning.Result r = MagnitudePruning.prune(weights, List.of("a", "b"), sparsity,
                MagnitudePruning.Pattern.UNSTRUCTURED, manager);

        long expected = Math.round(sparsity * a.length) + Math.round(sparsity * b.length);
        assertEquals(expected, r.zeros());
        assertEquals(a.length + b.length, r.elements());
        for (String name : List.of("a.weight", "b.weight")) {
            float[] before = weights.get(name).toFloatArray();
            float[] after = r.weights().get(name).toFloatArray();
            float largestRemoved = 0;
            float smallestKept = Float.MAX_VALUE;
            for (int i = 0; i < before.length; i++) {
                if (after[i] == 0) {
                    largestRemoved = Math.max(largestRemoved, Math.abs(before[i]));
                } else {
                    assertEquals(before[i], after[i], "a kept weight is unchanged");
                    smallestKept = Math.min(smallestKept, Math.abs(before[i]));
                }
            }
            assertTrue(largestRemoved <= smallestKept, name + ": removed " + largestRemoved + " > kept " + smallestKept);
        }
        assertEquals(weights.get("b.bias"), r.weights().get("b.bias"), "biases are not pruned");
    }

    @Test
    void twoFourKeepsTheTwoLargestOfEachGroupOfFourAlongTheInput() {
        float[] w = random(6 * 16, 4);
        w[0] = 0.5f;    // a tie inside the first group: the earlier of the equal ones goes
        w[1] = -0.5f;
        w[2] = 2f;
        w[3] = 3f;
        MagnitudePruning.Result r = MagnitudePruning.prune(Map.of("m.weight", manager.create(w, new Shape(6, 16))),
                List.of("m"), 0.5, MagnitudePruning.Pattern.TWO_FOUR, manager);

        float[] after = r.weights().get("m.weight").toFloatArray();
        for (int g = 0; g < w.length; g += 4) {
            int zeros = 0;
            for (int i = g; i < g + 4; i++) {
                if (after[i] == 0) {
                    zeros++;
                    for (int j = g; j < g + 4; j++) {
                        assertTrue(after[j] == 0 || Math.abs(w[j]) >= Math.abs(w[i]), "group " + g / 4 + " kept a smaller one");
                    }
                }
            }
            assertEquals(2, zeros, "group " + g / 4);
        }
        assertEquals(List.of(0f, 0f, 2f, 3f), List.of(after[0], after[1], after[2], after[3]));
        assertEquals(0.5, r.sparsity());
    }

    @Test
    void twoFourNeedsAnInputWidthDividedByFourAndSparsityOneHalf() {
        Map<String, NDArray> odd = Map.of("m.weight", manager.create(random(3 * 6, 5), new Shape(3, 6)));
        IllegalArgumentException width = assertThrows(IllegalArgumentException.class, () -> MagnitudePruning.prune(odd,
                List.of("m"), 0.5, MagnitudePruning.Pattern.TWO_FOUR, manager));
        assertTrue(width.getMessage().contains("not a multiple of 4"), width.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MagnitudePruning.prune(odd, List.of("m"), 0.3,
                MagnitudePruning.Pattern.TWO_FOUR, manager));
    }
}
