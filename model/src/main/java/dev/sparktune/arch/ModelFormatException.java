package dev.sparktune.arch;

/** A model directory, config or set of weights that does not fit the architecture; the message names what. */
public final class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }
}
