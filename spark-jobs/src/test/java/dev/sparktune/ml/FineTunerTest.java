package dev.sparktune.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.ml.param.ParamMap;
import org.junit.jupiter.api.Test;

/** {@link FineTuner}'s hyper-parameter Params over the job YAML, without Spark. */
class FineTunerTest {
    private static final String YAML = """
            model: {model_name_or_path: /models/minilm}
            method: {stage: cls, finetuning_type: lora, lora_rank: 8, lora_dropout: 0.1}
            train: {output_dir: /runs/a, learning_rate: 2.0e-3, max_steps: 20, per_device_train_batch_size: 4}
            dist: {world_size: 2}
            """;

    @Test
    void anUnsetParamLeavesTheYamlsValueAndASetOneReplacesIt() {
        FineTuner tuner = new FineTuner().setConfig(YAML);
        assertEquals(8, tuner.getLoraRank());
        assertEquals(16.0, tuner.getLoraAlpha(), "the YAML's default alpha, 2 x lora_rank");
        assertEquals(2e-3, tuner.getLearningRate());
        assertEquals(3.0, tuner.getNumTrainEpochs(), "the config's default");

        tuner.setLearningRate(1e-4).setNumTrainEpochs(2).setMaxSteps(7).setPerDeviceTrainBatchSize(2)
                .setGradientAccumulationSteps(3).setSeed(-5).setOutputDir("/runs/b").setFinetuningType("full")
                .setLoraRank(4).setLoraDropout(0.25).setWorldSize(3);
        assertEquals(1e-4, tuner.getLearningRate());
        assertEquals(2.0, tuner.getNumTrainEpochs());
        assertEquals(7, tuner.getMaxSteps());
        assertEquals(2, tuner.getPerDeviceTrainBatchSize());
        assertEquals(3, tuner.getGradientAccumulationSteps());
        assertEquals(-5, tuner.getSeed());
        assertEquals("/runs/b", tuner.getOutputDir());
        assertEquals("full", tuner.getFinetuningType());
        assertEquals(4, tuner.getLoraRank());
        assertEquals(8.0, tuner.getLoraAlpha(), "an unset alpha follows the tuned rank");
        assertEquals(0.25, tuner.getLoraDropout());
        assertEquals(3, tuner.getWorldSize());
        assertEquals(2.5, tuner.setLoraAlpha(2.5).getLoraAlpha());

        tuner.setOverrides("train.learning_rate=5e-4", "train.warmup_steps=2");
        assertEquals(1e-4, tuner.getLearningRate(), "a set Param wins over an override of its key");
        tuner.clear(tuner.learningRate());
        assertEquals(5e-4, tuner.getLearningRate());
    }

    @Test
    void aBadValueIsRefusedNamingTheParamAndTheYamlKey() {
        FineTuner tuner = new FineTuner().setConfig(YAML);
        IllegalArgumentException rank = assertThrows(IllegalArgumentException.class, () -> tuner.setLoraRank(0));
        assertEquals("FineTuner: loraRank 0 is refused (method.lora_rank: must be >= 1, got 0)", rank.getMessage());
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class, () -> tuner.setFinetuningType("qlora"));
        assertTrue(type.getMessage().startsWith("FineTuner: finetuningType qlora is refused (method.finetuning_type: "),
                type.getMessage());
        assertEquals(8, tuner.getLoraRank(), "a refused value is not set");
    }

    @Test
    void aBadValueFromAParamMapIsRefusedWhenTheConfigIsRead() {
        // CrossValidator hands grid points to copy(), past the setters
        FineTuner tuner = new FineTuner().setConfig(YAML);
        FineTuner copy = tuner.copy(new ParamMap().put(tuner.loraDropout(), 1.5));
        assertEquals(tuner.uid(), copy.uid());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, copy::getLoraDropout);
        assertTrue(e.getMessage().startsWith("FineTuner: loraDropout 1.5 is refused (method.lora_dropout: "), e.getMessage());
    }
}
