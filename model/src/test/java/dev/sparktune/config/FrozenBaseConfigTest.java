package dev.sparktune.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** model.quantization_bit and train.bf16: their values, and the methods they are refused with, naming the key. */
class FrozenBaseConfigTest {

    @Test
    void quantizationBitIsEightFourOrUnset() {
        assertEquals(0, parse("").model().quantizationBit());
        assertEquals(8, parse("model:\n  quantization_bit: 8\n").model().quantizationBit());
        assertEquals(4, parse("model:\n  quantization_bit: 4\n").model().quantizationBit());
        ConfigException e = assertThrows(ConfigException.class, () -> parse("model:\n  quantization_bit: 2\n"));
        assertTrue(e.getMessage().startsWith("job.yaml: model.quantization_bit (line 2): '2' is not allowed"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "freeze", "adapter", "prefix", "prompt", "bitfit"})
    void quantizationIsRefusedWithoutLora(String method) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("model:\n  quantization_bit: 4\nmethod:\n  finetuning_type: " + method + "\n"));
        assertTrue(e.getMessage().startsWith("job.yaml: model.quantization_bit (line 2): quantises the frozen base under"
                + " LoRA adapters (QLoRA), but method.finetuning_type is '" + method + "'"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "freeze", "bitfit"})
    void bf16IsRefusedForMethodsThatExportTheWholeModel(String method) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("train:\n  bf16: true\nmethod:\n  finetuning_type: " + method + "\n"));
        assertTrue(e.getMessage().startsWith("job.yaml: train.bf16 (line 2): stores the frozen linear weights as bfloat16"),
                e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "adapter", "prefix", "prompt"})
    void bf16IsAcceptedForAdapterMethods(String method) {
        assertTrue(parse("train:\n  bf16: true\nmethod:\n  finetuning_type: " + method + "\n").train().bf16());
    }

    private static JobConfig parse(String yaml) {
        return ConfigLoader.parse(yaml, "job.yaml", List.of()).job();
    }
}
