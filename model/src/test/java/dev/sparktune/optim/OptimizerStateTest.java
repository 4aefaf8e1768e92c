package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Optimizer state by name: export, load into a fresh optimizer, and the next update is the same. */
class OptimizerStateTest {

    private static final Map<String, Shape> SHAPES = Map.of("a.weight", new Shape(3, 4), "b.bias", new Shape(4));

    static Stream<UpdateRule> rules() {
        return Stream.of(new AdamW(0.9, 0.999, 1e-8), new Lion(0.9, 0.99), new Sgd(0.9));
    }

    @ParameterizedTest
    @MethodSource("rules")
    void exportAndLoadGiveTheSameNextUpdate(UpdateRule rule) {
        Random random = new Random(7);
        ParameterGroups groups = ParameterGroups.huggingFace(0.05);
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer first = new Optimizer(rule, groups, manager);
             Optimizer resumed = new Optimizer(rule, groups, manager)) {
            Map<String, NDArray> params = parameters(manager, random);
            for (int step = 0; step < 3; step++) {
                GivenGradients.set(params, gradients(random));
                first.step(params, 0.01);
            }

            try (NDManager checkpoint = manager.newSubManager()) {
                Map<String, NDArray> exported = first.state().export(checkpoint);
                Set<String> expectedKeys = new TreeSet<>();
                for (String name : SHAPES.keySet()) {
                    expectedKeys.add(name + "/step");
                    rule.slots().forEach(slot -> expectedKeys.add(name + "/" + slot));
                }
                assertEquals(expectedKeys, exported.keySet());
                assertEquals(3L, exported.get("a.weight/step").getLong());
                resumed.state().load(exported);
            }
            assertEquals(first.state().bytes(), resumed.state().bytes());
            assertEquals(16L * 8 * rule.slots().size(), resumed.state().bytes(), "16 float64 elements per slot");

            // the same parameters and gradient, stepped by the original and by the one resumed from its state
            Map<String, NDArray> copies = new TreeMap<>();
            params.forEach((name, p) -> {
                NDArray c = p.duplicate();
                c.setRequiresGradient(true);
                copies.put(name, c);
            });
            Map<String, double[]> g = gradients(random);
            GivenGradients.set(params, g);
            GivenGradients.set(copies, g);
            first.step(params, 0.01);
            resumed.step(copies, 0.01);
            for (String name : SHAPES.keySet()) {
                assertArrayEquals(params.get(name).toDoubleArray(), copies.get(name).toDoubleArray(), 0.0, name);
                assertEquals(4, resumed.state().step(name));
            }
        }
    }

    @Test
    void freshStateIsEmptyAndSgdWithoutMomentumKeepsOnlyTheStep() {
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer sgd = new Optimizer(new Sgd(0), ParameterGroups.uniform(0), manager)) {
            assertEquals(0, sgd.state().bytes());
            assertEquals(Set.of(), sgd.state().parameters());
            Map<String, NDArray> params = parameters(manager, new Random(1));
            GivenGradients.set(params, gradients(new Random(2)));
            sgd.step(params, 0.1);
            assertEquals(0, sgd.state().bytes());
            assertEquals(Set.of("a.weight/step", "b.bias/step"), sgd.state().export(manager).keySet());
        }
    }

    @Test
    void loadRefusesStateThatDoesNotFitTheRuleNamingTheKey() {
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer adam = new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.uniform(0), manager)) {
            NDArray zeros = manager.zeros(new Shape(4), DataType.FLOAT64);
            NDArray step = manager.create(2L);

            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> adam.state().load(
                    Map.of("b.bias/exp_avg", zeros, "b.bias/step", step)));
            assertTrue(missing.getMessage().contains("'b.bias'") && missing.getMessage().contains("exp_avg_sq"),
                    missing.getMessage());

            IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class, () -> adam.state().load(
                    Map.of("b.bias/momentum_buffer", zeros, "b.bias/step", step)));
            assertTrue(foreign.getMessage().contains("'b.bias/momentum_buffer'"), foreign.getMessage());

            // loaded state of the wrong shape is caught when it meets its parameter
            adam.state().load(Map.of("a.weight/exp_avg", zeros, "a.weight/exp_avg_sq", zeros, "a.weight/step", step));
            Map<String, NDArray> params = parameters(manager, new Random(3));
            GivenGradients.set(params, gradients(new Random(4)));
            IllegalStateException shape = assertThrows(IllegalStateException.class, () -> adam.step(params, 0.1));
            assertTrue(shape.getMessage().contains("'a.weight/exp_avg'") && shape.getMessage().contains("(3, 4)"),
                    shape.getMessage());
        }
    }

    @Test
    void aTensorBackwardHasNotReachedIsLeftAlone() {
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer adam = new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.uniform(0.1), manager)) {
            Map<String, NDArray> params = parameters(manager, new Random(5));
            double[] before = params.get("b.bias").toDoubleArray();
            GivenGradients.set(params, Map.of("a.weight", new double[12]));
            adam.step(params, 0.1);
            assertArrayEquals(before, params.get("b.bias").toDoubleArray(), 0.0);
            assertEquals(Set.of("a.weight"), adam.state().parameters());
            assertEquals(0, adam.state().step("b.bias"));
        }
    }

    @Test
    void aTensorThatDoesNotTrainIsAnErrorNamingIt() {
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer adam = new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.uniform(0), manager)) {
            NDArray frozen = manager.zeros(new Shape(2), DataType.FLOAT64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> adam.step(Map.of("embeddings.word_embeddings.weight", frozen), 0.1));
            assertTrue(e.getMessage().contains("'embeddings.word_embeddings.weight'"), e.getMessage());
        }
    }

    static Map<String, NDArray> parameters(NDManager manager, Random random) {
        Map<String, NDArray> params = new TreeMap<>();
        SHAPES.forEach((name, shape) -> {
            NDArray p = manager.create(OptimizerReferenceTest.gaussian(random, (int) shape.size(), 1), shape);
            p.setRequiresGradient(true);
            params.put(name, p);
        });
        return params;
    }

    static Map<String, double[]> gradients(Random random) {
        Map<String, double[]> g = new LinkedHashMap<>();
        for (String name : List.of("a.weight", "b.bias")) {
            g.put(name, OptimizerReferenceTest.gaussian(random, (int) SHAPES.get(name).size(), 1));
        }
        return g;
    }
}
