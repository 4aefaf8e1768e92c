package dev.sparktune.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --model} and {@code --adapter} of the commands that run a model in this JVM ({@code embed}, {@code generate}). */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face model folder (config.json, safetensors weights, tokenizer.json)")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR",
            description = "a PEFT adapter folder (adapter_config.json, adapter_model.safetensors) to apply")
    Path adapter;

    LocalModel load() {
        return LocalModel.open(model, adapter);
    }
}
