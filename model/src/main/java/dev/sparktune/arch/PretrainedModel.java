package dev.sparktune.arch;

/** A network of a supported family with its parameters, named the Hugging Face way. */
public sealed interface PretrainedModel permits Llama, Bert {

    Weights weights();
}
