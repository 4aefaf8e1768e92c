package dev.sparktune.config;

import java.util.List;

/**
 * Section {@code method}: the training objective and the fine-tuning method, with
 * LLaMA-Factory's and PEFT's key names.
 */
public record MethodConfig(
        String stage,
        String finetuningType,
        int freezeTrainableLayers,
        List<String> freezeExtraModules,
        int loraRank,
        double loraAlpha,
        double loraDropout,
        List<String> loraTarget,
        boolean useRslora,
        boolean useDora,
        List<String> modulesToSave,
        int adapterSize,
        int numVirtualTokens,
        boolean prefixProjection,
        String promptTuningInitText) {

    static MethodConfig read(Section s) {
        String stage = s.choice("stage", "sft", "pt", "sft", "cls");
        String type = s.choice("finetuning_type", "lora", "full", "freeze", "lora", "adapter", "prefix", "prompt", "bitfit");
        int freezeLayers = s.integer("freeze_trainable_layers", 2, Range.ANY);
        s.require(freezeLayers != 0, "freeze_trainable_layers",
                "must not be 0: positive trains the top layers, negative the bottom ones");
        List<String> freezeExtra = s.strings("freeze_extra_modules", List.of());
        int rank = s.integer("lora_rank", 8, Range.atLeast(1));
        // PEFT and LLaMA-Factory both default alpha to twice the rank when it is not given.
        double alpha = s.number("lora_alpha", 2.0 * rank, Range.above(0));
        double dropout = s.number("lora_dropout", 0.0, Range.closedOpen(0, 1));
        List<String> target = s.strings("lora_target", List.of("all"));
        s.require(!target.isEmpty(), "lora_target", "must name at least one module, a regex, or 'all'");
        boolean rslora = s.flag("use_rslora", false);
        boolean dora = s.flag("use_dora", false);
        List<String> modulesToSave = s.strings("modules_to_save", List.of());
        int adapterSize = s.integer("adapter_size", 64, Range.atLeast(1));
        int virtualTokens = s.integer("num_virtual_tokens", 20, Range.atLeast(1));
        boolean prefixProjection = s.flag("prefix_projection", false);
        String initText = s.string("prompt_tuning_init_text", null);
        return new MethodConfig(stage, type, freezeLayers, freezeExtra, rank, alpha, dropout, target, rslora, dora,
                modulesToSave, adapterSize, virtualTokens, prefixProjection, initText);
    }
}
