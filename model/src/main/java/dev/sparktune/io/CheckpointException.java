package dev.sparktune.io;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint or safetensors file that cannot be read or written: a missing file, a corrupt
 * header, bytes that do not match what the header declares. The message names the file, the
 * tensor when one is concerned, and what is wrong.
 */
public final class CheckpointException extends RuntimeException {
    private final Path file;
    private final String tensor;

    public CheckpointException(Path file, String problem) {
        this(file, null, problem, null);
    }

    public CheckpointException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public CheckpointException(Path file, String tensor, String problem, Throwable cause) {
        super(file + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + problem, cause);
        this.file = file;
        this.tensor = tensor;
    }

    public Path file() {
        return file;
    }

    /** The tensor concerned, when the problem is about one tensor. */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }
}
