package dev.sparktune.arch;

import dev.sparktune.nn.BlockStack;

/** A network of a supported family with its parameters, named the Hugging Face way. */
public sealed interface PretrainedModel permits Llama, Bert {

    Weights weights();

    /** Its modules by name: what fine-tuning methods select from. */
    ModelLayout layout();

    /** The same architecture over other weights (e.g. with adapter tensors) and a changed forward. */
    PretrainedModel with(Weights weights, ForwardHooks hooks);

    /** The same model running its transformer blocks through {@code blocks}: checkpointed, for one. */
    PretrainedModel withBlocks(BlockStack blocks);
}
