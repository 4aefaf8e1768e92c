package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.Weights;
import dev.sparktune.config.MethodConfig;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A fine-tuning method as a value, like PEFT's {@code LoraConfig}: it decides which named
 * tensors train, which new tensors exist, and how the forward pass changes.
 */
public sealed interface Method permits FullFineTuning, Freeze, BitFit, Lora, BottleneckAdapter, PrefixTuning, PromptTuning {

    /** The parameters that train, among {@code names}: the base model's and the ones {@link #newTensors} added. */
    Set<String> trainable(ModelLayout layout, Set<String> names);

    /** Tensors this method adds to the model, initialised. */
    default Map<String, NDArray> newTensors(ModelLayout layout, Weights base, NDManager manager, Random random) {
        return Map.of();
    }

    /** How the forward pass changes; {@code training} turns dropout on. */
    default ForwardHooks hooks(ModelLayout layout, boolean training) {
        return ForwardHooks.NONE;
    }

    /**
     * The method a job's {@code method} section asks for. Prompt tuning initialised from text
     * needs the text's token ids, so they are passed in ({@code promptInitIds}, may be null).
     */
    static Method from(MethodConfig c, long[] promptInitIds) {
        return switch (c.finetuningType()) {
            case "full" -> new FullFineTuning();
            case "freeze" -> new Freeze(c.freezeTrainableLayers(), c.freezeExtraModules());
            case "bitfit" -> new BitFit();
            case "lora" -> new Lora(c.loraRank(), c.loraAlpha(), c.loraDropout(), c.loraTarget(), c.useRslora(),
                    c.useDora(), c.modulesToSave());
            case "adapter" -> new BottleneckAdapter(c.adapterSize());
            case "prefix" -> new PrefixTuning(c.numVirtualTokens(), c.prefixProjection(), PrefixTuning.DEFAULT_ENCODER_HIDDEN);
            case "prompt" -> new PromptTuning(c.numVirtualTokens(), c.promptTuningInitText(), promptInitIds);
            default -> throw new IllegalArgumentException("unknown finetuning_type '" + c.finetuningType() + "'");
        };
    }
}
