package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class OptimizerFromConfigTest {

    @Test
    void optimNamesTheRuleAndItsHyperparameters() {
        assertEquals(new AdamW(0.9, 0.95, 1e-6),
                UpdateRule.from(train("optim: adamw\n  adam_beta2: 0.95\n  adam_epsilon: 1.0e-6\n")));
        // Hugging Face's Trainer hands Lion the adam betas too
        assertEquals(new Lion(0.95, 0.98), UpdateRule.from(train("optim: lion\n  adam_beta1: 0.95\n  adam_beta2: 0.98\n")));
        assertEquals(new Sgd(0.9), UpdateRule.from(train("optim: sgd\n")));
        assertEquals(new Sgd(0.5), UpdateRule.from(train("optim: sgd\n  sgd_momentum: 0.5\n")));
        assertEquals(new AdamW(0.9, 0.999, 1e-8), UpdateRule.from(train("")), "the config's defaults");
    }

    @Test
    void theOptimizerFromAJobUsesItsWeightDecayOutsideBiasesAndNorms() {
        try (NDManager manager = NDManager.newBaseManager();
             Optimizer optimizer = Optimizer.from(train("optim: lion\n  weight_decay: 0.1\n"), manager)) {
            assertEquals(new Lion(0.9, 0.999), optimizer.rule());
            assertEquals(0.1, optimizer.groups().settings("encoder.layer.0.output.dense.weight").weightDecay());
            assertEquals(0.0, optimizer.groups().settings("encoder.layer.0.output.dense.bias").weightDecay());
            assertEquals(0.0, optimizer.groups().settings("encoder.layer.0.output.LayerNorm.weight").weightDecay());
        }
    }

    private static TrainConfig train(String keys) {
        return ConfigLoader.parse("train:\n  " + keys, "test.yaml", List.of()).job().train();
    }
}
