package dev.sparktune.tokenize;

import java.nio.file.Path;

/** A tokenizer that cannot be loaded or used; the message names the file and what is wrong with it. */
public final class TokenizerException extends RuntimeException {

    public TokenizerException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public TokenizerException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
