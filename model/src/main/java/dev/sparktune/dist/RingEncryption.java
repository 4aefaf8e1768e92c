package dev.sparktune.dist;

import java.util.Locale;

/**
 * What the ring does to the bytes it sends ({@code dist.ring_encryption}). Both modes authenticate peers with the job
 * secret in the handshake; {@link #AES_GCM} also seals every frame after it with per-connection keys derived there, so
 * that whoever sits on the path can neither read nor alter (or replay, reorder, cut) what the ranks exchange.
 */
public enum RingEncryption {
    // the handshake sends the ordinal: keep the order
    NONE("none"),
    AES_GCM("aes-gcm");

    private final String configName;

    RingEncryption(String configName) {
        this.configName = configName;
    }

    /** The value as {@code dist.ring_encryption} spells it. */
    public String configName() {
        return configName;
    }

    /** The mode {@code dist.ring_encryption} names: {@code none} or {@code aes-gcm}. */
    public static RingEncryption named(String value) {
        for (RingEncryption e : values()) {
            if (e.configName.equals(value.toLowerCase(Locale.ROOT))) {
                return e;
            }
        }
        throw new IllegalArgumentException("dist.ring_encryption: '" + value + "' is not allowed; choose none or aes-gcm");
    }
}
