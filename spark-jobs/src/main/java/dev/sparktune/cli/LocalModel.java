package dev.sparktune.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model folder on this machine loaded for inference by a command that starts no Spark ({@code embed},
 * {@code generate}): the network with its PEFT adapter applied (dropout off, no gradients), its tokenizer, and the
 * manager that owns the weights. The Spark jobs load through {@code ml.LoadedModel}, which takes the folders from the
 * executor's cache instead.
 *
 * @param dir the model folder, for its tokenizer and chat-template files
 */
record LocalModel(Path dir, PretrainedModel model, Tokenizer tokenizer, NDManager manager) implements AutoCloseable {

    /**
     * Loads {@code modelDir} (config.json, weights, tokenizer.json) and, if given, the adapter in {@code adapterDir}.
     * A folder that is missing or incomplete is an {@link IllegalArgumentException} naming it.
     */
    static LocalModel open(Path modelDir, Path adapterDir) {
        if (!Files.isRegularFile(modelDir.resolve(ModelDirectory.CONFIG_FILE))) {
            throw new IllegalArgumentException("--model " + modelDir + (Files.isDirectory(modelDir) ? " has no "
                    + ModelDirectory.CONFIG_FILE : " does not exist") + "; it should be a Hugging Face model folder"
                    + " (config.json, model.safetensors, tokenizer.json)");
        }
        if (adapterDir != null) {
            requireAdapterFolder(adapterDir);
        }
        ModelDirectory directory = ModelDirectory.open(modelDir);
        NDManager manager = NDManager.newBaseManager();
        Tokenizer tokenizer = null;
        try {
            tokenizer = Tokenizer.load(modelDir);
            PretrainedModel base = directory.load(manager, DataType.FLOAT32);
            PretrainedModel model = adapterDir == null ? base
                    : PeftFormat.load(adapterDir, base, manager).model(false);
            return new LocalModel(modelDir, model, tokenizer, manager);
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            manager.close();
            throw e;
        }
    }

    /** An {@link IllegalArgumentException} naming {@code adapterDir} unless it holds a PEFT adapter_config.json. */
    static void requireAdapterFolder(Path adapterDir) {
        if (!Files.isRegularFile(adapterDir.resolve(PeftFormat.CONFIG_FILE))) {
            throw new IllegalArgumentException("--adapter " + adapterDir + (Files.isDirectory(adapterDir) ? " has no "
                    + PeftFormat.CONFIG_FILE : " does not exist") + "; it should be a PEFT adapter folder"
                    + " (adapter_config.json, adapter_model.safetensors)");
        }
    }

    @Override
    public void close() {
        tokenizer.close();
        manager.close();
    }
}
