package dev.sparktune.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.MethodConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The job YAML's method section turns into the method records, with LLaMA-Factory's and PEFT's key names. */
class MethodFromConfigTest {

    private static MethodConfig method(String... overrides) {
        return ConfigLoader.parse("", "job.yaml", List.of(overrides)).job().method();
    }

    @Test
    void loraKeysBecomeALoraRecord() {
        Method m = Method.from(method("method.finetuning_type=lora", "method.lora_rank=16", "method.lora_alpha=32",
                "method.lora_target=q_proj,v_proj", "method.use_dora=true", "method.modules_to_save=classifier"), null);
        assertEquals(new Lora(16, 32, 0.0, List.of("q_proj", "v_proj"), false, true, List.of("classifier")), m);
    }

    @Test
    void everyFinetuningTypeMapsToItsMethod() {
        assertInstanceOf(FullFineTuning.class, Method.from(method("method.finetuning_type=full"), null));
        assertEquals(new Freeze(-3, List.of("embed_tokens")), Method.from(method("method.finetuning_type=freeze",
                "method.freeze_trainable_layers=-3", "method.freeze_extra_modules=embed_tokens"), null));
        assertInstanceOf(BitFit.class, Method.from(method("method.finetuning_type=bitfit"), null));
        assertEquals(new BottleneckAdapter(16), Method.from(method("method.finetuning_type=adapter", "method.adapter_size=16"), null));
        assertEquals(new PrefixTuning(10, true, PrefixTuning.DEFAULT_ENCODER_HIDDEN), Method.from(method(
                "method.finetuning_type=prefix", "method.num_virtual_tokens=10", "method.prefix_projection=true"), null));
        PromptTuning prompt = (PromptTuning) Method.from(method("method.finetuning_type=prompt",
                "method.prompt_tuning_init_text=classify this"), new long[] {5, 6});
        assertEquals("classify this", prompt.initText());
        assertEquals(20, prompt.numVirtualTokens());
    }
}
