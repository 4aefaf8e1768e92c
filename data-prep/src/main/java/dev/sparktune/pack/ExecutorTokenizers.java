package dev.sparktune.pack;

import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * One tokenizer per JVM and tokenizer-file set: every task of an executor shares it (the Rust tokenizer encodes
 * from several threads at once), so its native memory and load time are paid once per executor, not per task.
 * Tokenizers live as long as the JVM; their files come from the JVM's {@code ModelFolderCache}.
 */
final class ExecutorTokenizers {
    private static final Map<String, Tokenizer> LOADED = new HashMap<>();

    private ExecutorTokenizers() {
    }

    /** The tokenizer of these files, loaded from {@code copy} (a local folder holding them) the first time. */
    static synchronized Tokenizer get(TokenizerFiles files, Path copy) {
        return LOADED.computeIfAbsent(files.listing().fingerprint(), fingerprint -> Tokenizer.load(copy));
    }
}
