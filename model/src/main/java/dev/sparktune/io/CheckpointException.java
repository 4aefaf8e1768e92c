package dev.sparktune.io;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A checkpoint or safetensors file that cannot be read or written: a missing file, a corrupt
 * header, bytes that do not match what the header declares. The message names the file (a local
 * path, or a location on a Hadoop file system such as {@code hdfs://namenode:8020/runs/x/checkpoint-10}),
 * the tensor when one is concerned, and what is wrong.
 */
public final class CheckpointException extends RuntimeException {
    private final String location;
    private final String tensor;

    public CheckpointException(Path file, String problem) {
        this(file.toString(), null, problem, null);
    }

    public CheckpointException(Path file, String tensor, String problem) {
        this(file.toString(), tensor, problem, null);
    }

    public CheckpointException(Path file, String tensor, String problem, Throwable cause) {
        this(file.toString(), tensor, problem, cause);
    }

    /** A problem with the file or folder at {@code location}, a local path or a Hadoop file system URI. */
    public CheckpointException(String location, String problem) {
        this(location, null, problem, null);
    }

    public CheckpointException(String location, String tensor, String problem, Throwable cause) {
        super(location + ": " + (tensor == null ? "" : "tensor '" + tensor + "': ") + problem, cause);
        this.location = location;
        this.tensor = tensor;
    }

    /** The file or folder concerned, as the message names it: a local path or a Hadoop file system URI. */
    public String location() {
        return location;
    }

    /**
     * The file or folder concerned as a local path.
     *
     * @throws UnsupportedOperationException when it lies on a file system other than the local one; see {@link #location()}
     */
    public Path file() {
        if (location.startsWith("file:")) {
            return Path.of(new org.apache.hadoop.fs.Path(location).toUri());
        }
        if (location.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*")) {
            throw new UnsupportedOperationException(location + " is not on the local file system; use location()");
        }
        return Path.of(location);
    }

    /** The tensor concerned, when the problem is about one tensor. */
    public Optional<String> tensor() {
        return Optional.ofNullable(tensor);
    }
}
