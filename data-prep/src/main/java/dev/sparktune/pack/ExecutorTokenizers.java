package dev.sparktune.pack;

import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * One tokenizer per JVM and tokenizer-file set: every task of an executor shares it (the Rust tokenizer encodes
 * from several threads at once), so its native memory and load time are paid once per executor, not per task.
 * Tokenizers live as long as the JVM.
 */
final class ExecutorTokenizers {

    /** A tokenizer and the folder its files were written to (where its chat template is read from). */
    record Loaded(Path dir, Tokenizer tokenizer) {
    }

    private static final Map<String, Loaded> LOADED = new HashMap<>();

    private ExecutorTokenizers() {
    }

    static synchronized Loaded get(TokenizerFiles files) {
        return LOADED.computeIfAbsent(files.sha256(), hash -> {
            try {
                Path dir = files.writeTo(Files.createTempDirectory("sparktune-tokenizer-" + hash.substring(0, 12)));
                return new Loaded(dir, Tokenizer.load(dir));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a temporary folder for the tokenizer files", e);
            }
        });
    }
}
