package dev.sparktune.ml;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.ChatTemplateException;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.tokenize.TokenizerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;

/**
 * A model loaded on an executor for inference: the network (with its adapter applied, dropout off, no
 * gradients), its tokenizer if the folder has one, and the manager that owns the weights. For a decoder it also keeps
 * what generation reads from the folder, since the folder copy is released once the model is in memory: the chat
 * template (or why there is none) and the end-of-sequence ids.
 *
 * @param model           a {@link Bert} with a classification head, or a Llama-family decoder
 * @param tokenizer       the model folder's tokenizer, or null when it ships none (token-id input only)
 * @param manager         owns the weights; each batch runs in a sub-manager of it
 * @param source          the locations, for messages
 * @param tokenizerConfig the folder's tokenizer_config.json (bos / eos for built-in chat templates)
 * @param ownTemplate     the model's own chat template, or null when it has none
 * @param templateProblem why {@code ownTemplate} is null
 * @param stopTokenIds    the ids that end a completion (eos, generation_config.json's eos_token_id)
 */
record LoadedModel(PretrainedModel model, Tokenizer tokenizer, NDManager manager, String source,
                   TokenizerConfig tokenizerConfig, ChatTemplate ownTemplate, String templateProblem,
                   Set<Long> stopTokenIds) implements AutoCloseable {

    /** Loads the files from this JVM's {@link ModelFolderCache}; the copies are unused once the model is in memory. */
    static LoadedModel load(ModelFiles files) {
        String source = files.source();
        Configuration conf = files.conf().value().get();
        ModelFolderCache cache = ModelFolderCache.jvm();
        NDManager manager = NDManager.newBaseManager();
        Tokenizer tokenizer = null;
        try (ModelFolderCache.Lease modelCopy = cache.acquire(files.model(), conf);
             ModelFolderCache.Lease adapterCopy = files.adapter() == null ? null
                     : cache.acquire(files.adapter(), conf)) {
            Path modelDir = modelCopy.folder();
            PretrainedModel base = ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32);
            PretrainedModel model = adapterCopy == null ? base
                    : PeftFormat.load(adapterCopy.folder(), base, manager).model(false);
            if (model instanceof Bert bert && !bert.weights().has(Bert.CLASSIFIER + ".weight")) {
                throw new IllegalArgumentException(source + ": this BERT model has no sequence-classification head ("
                        + Bert.CLASSIFIER + ".weight, in the model folder or the adapter); FineTunedModel scores"
                        + " classifiers and causal language models");
            }
            if (Files.isRegularFile(modelDir.resolve("tokenizer.json"))) {
                tokenizer = Tokenizer.load(modelDir);
            }
            ChatTemplate own = null;
            String problem = null;
            if (model instanceof Llama) {
                try {
                    own = ChatTemplate.forModel(modelDir, null);
                } catch (ChatTemplateException e) {
                    problem = e.getMessage();
                }
            }
            Set<Long> stops = tokenizer == null ? Set.of() : StopTokens.of(tokenizer, modelDir);
            return new LoadedModel(model, tokenizer, manager, source, TokenizerConfig.read(modelDir), own, problem,
                    stops);
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            manager.close();
            throw e;
        }
    }

    /** The tokenizer for a text column; a folder without tokenizer.json can score token ids only. */
    Tokenizer requireTokenizer(String column) {
        if (tokenizer == null) {
            throw new IllegalArgumentException(source + " has no tokenizer.json, so the text column '" + column
                    + "' cannot be tokenized; give an input_ids column (array<bigint>) instead");
        }
        return tokenizer;
    }

    /** The built-in template {@code name}, or the model's own when {@code name} is null. */
    ChatTemplate chatTemplate(String name) {
        if (name != null) {
            return ChatTemplate.builtIn(name, tokenizerConfig.bosToken(), tokenizerConfig.eosToken());
        }
        if (ownTemplate == null) {
            throw new IllegalArgumentException(source + ": " + templateProblem + " (FineTunedModel: chatTemplate)");
        }
        return ownTemplate;
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        manager.close();
    }
}
