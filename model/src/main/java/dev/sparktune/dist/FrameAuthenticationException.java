package dev.sparktune.dist;

/**
 * A sealed frame that did not open (dist.ring_encryption: aes-gcm): it was altered, replayed, reordered or cut on the
 * way, or did not come from the rank that shook hands. The collective fails; nothing of the frame is used.
 */
public final class FrameAuthenticationException extends CollectiveException {
    public FrameAuthenticationException(String message, Throwable cause) {
        super(message, cause);
    }
}
