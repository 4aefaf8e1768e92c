package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.config.ConfigLoader;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ParameterGroupsTest {

    private static final double PEAK = 2e-4;
    private static final ParameterGroups GROUPS = ParameterGroups.huggingFace(0.01)
            .withLoraPlus(16)
            .withLearningRate(Pattern.compile("^classifier\\."), 1e-3, PEAK);

    @Test
    void rulesGiveEachNameItsMultiplierAndWeightDecay() {
        Map<String, ParameterGroups.Settings> expected = Map.of(
                "model.layers.0.self_attn.q_proj.lora_A.weight", new ParameterGroups.Settings(1, 0.01),
                "model.layers.0.self_attn.q_proj.lora_B.weight", new ParameterGroups.Settings(16, 0.01),
                "model.layers.0.self_attn.q_proj.lora_magnitude_vector", new ParameterGroups.Settings(1, 0.01),
                "classifier.weight", new ParameterGroups.Settings(5, 0.01),
                "classifier.bias", new ParameterGroups.Settings(5, 0),
                "encoder.layer.0.attention.output.LayerNorm.weight", new ParameterGroups.Settings(1, 0),
                "encoder.layer.0.attention.self.query.bias", new ParameterGroups.Settings(1, 0),
                "model.layers.3.input_layernorm.weight", new ParameterGroups.Settings(1, 0),
                "model.norm.weight", new ParameterGroups.Settings(1, 0),
                "model.embed_tokens.weight", new ParameterGroups.Settings(1, 0.01));
        expected.forEach((name, settings) -> {
            ParameterGroups.Settings actual = GROUPS.settings(name);
            assertEquals(settings.lrScale(), actual.lrScale(), 1e-12, name);
            assertEquals(settings.weightDecay(), actual.weightDecay(), name);
        });
    }

    @Test
    void theLastMatchingRuleWinsPerSetting() {
        ParameterGroups groups = ParameterGroups.uniform(0.1)
                .withLrScale(Pattern.compile("^head\\."), 3)
                .withWeightDecay(Pattern.compile("^head\\."), 0.5)
                .withLrScale(Pattern.compile("bias$"), 7);
        assertEquals(new ParameterGroups.Settings(7, 0.5), groups.settings("head.bias"));
        assertEquals(new ParameterGroups.Settings(3, 0.5), groups.settings("head.weight"));
        assertEquals(new ParameterGroups.Settings(1, 0.1), groups.settings("body.weight"));
    }

    @Test
    void fromTheJobConfigTheWeightDecaySkipsBiasesAndNorms() {
        ParameterGroups groups = ParameterGroups.from(
                ConfigLoader.parse("train:\n  weight_decay: 0.05\n", "test.yaml", List.of()).job().train());
        assertEquals(new ParameterGroups.Settings(1, 0.05), groups.settings("encoder.layer.0.intermediate.dense.weight"));
        assertEquals(new ParameterGroups.Settings(1, 0), groups.settings("encoder.layer.0.intermediate.dense.bias"));
    }

    @Test
    void fromTheJobConfigLoraPlusAndHeadLearningRateScaleTheirTensors() {
        ParameterGroups groups = ParameterGroups.from(ConfigLoader.parse("train:\n  learning_rate: 1.0e-4\n"
                + "  loraplus_lr_ratio: 16\n  head_learning_rate: 1.0e-3\n", "test.yaml", List.of()).job().train());
        assertEquals(16, groups.settings("encoder.layer.0.attention.self.query.lora_B.weight").lrScale());
        assertEquals(1, groups.settings("encoder.layer.0.attention.self.query.lora_A.weight").lrScale());
        assertEquals(10, groups.settings("classifier.weight").lrScale(), 1e-12);
        assertEquals(10, groups.settings("classifier_topic.bias").lrScale(), 1e-12);
        assertEquals(1, groups.settings("encoder.layer.0.output.dense.weight").lrScale());

        ParameterGroups plain = ParameterGroups.from(ConfigLoader.parse("", "test.yaml", List.of()).job().train());
        assertEquals(1, plain.settings("x.lora_B.weight").lrScale());
        assertEquals(1, plain.settings("classifier.weight").lrScale());
    }

    @Test
    void theOptimizerAppliesEachTensorsSettings() {
        // plain SGD makes one update easy to write down: p - lr * scale * (g + wd * p)
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer sgd = new Optimizer(new Sgd(0), GROUPS, manager)) {
            Map<String, NDArray> params = new TreeMap<>();
            for (String name : List.of("q_proj.lora_A.weight", "q_proj.lora_B.weight", "classifier.weight", "classifier.bias",
                    "output.LayerNorm.weight")) {
                NDArray p = manager.create(new double[] {1.0, -2.0}, new Shape(2));
                p.setRequiresGradient(true);
                params.put(name, p);
            }
            double[] g = {0.5, 0.25};
            Map<String, double[]> grads = new TreeMap<>();
            params.keySet().forEach(name -> grads.put(name, g));
            GivenGradients.set(params, grads);
            sgd.step(params, PEAK);

            double[][] expected = {
                    {1 - PEAK * (0.5 + 0.01), -2 - PEAK * (0.25 - 0.02)},
                    {1 - 16 * PEAK * (0.5 + 0.01), -2 - 16 * PEAK * (0.25 - 0.02)},
                    {1 - 1e-3 * (0.5 + 0.01), -2 - 1e-3 * (0.25 - 0.02)},
                    {1 - 1e-3 * 0.5, -2 - 1e-3 * 0.25},
                    {1 - PEAK * 0.5, -2 - PEAK * 0.25}};
            String[] names = {"q_proj.lora_A.weight", "q_proj.lora_B.weight", "classifier.weight", "classifier.bias",
                    "output.LayerNorm.weight"};
            for (int i = 0; i < names.length; i++) {
                assertArrayEquals(expected[i], params.get(names[i]).toDoubleArray(), 1e-15, names[i]);
            }
        }
    }

    @Test
    void negativeOrInfiniteSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ParameterGroups.uniform(-0.1));
        assertThrows(IllegalArgumentException.class, () -> GROUPS.withLrScale(Pattern.compile("x"), Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> GROUPS.withWeightDecay(Pattern.compile("x"), Double.NaN));
    }
}
