package dev.sparktune.dist;

/** A collective that cannot complete: a peer died, a socket broke, a handshake failed or a call timed out. */
public class CollectiveException extends RuntimeException {

    public CollectiveException(String message) {
        super(message);
    }

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
