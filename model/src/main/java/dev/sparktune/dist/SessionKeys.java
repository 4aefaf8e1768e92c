package dev.sparktune.dist;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The two AES-256 keys of one ring connection, one per direction, derived with HKDF-SHA256 (RFC 5869) from the job
 * secret, salted with both sides' fresh handshake nonces, so every connection has keys of its own. Distinct labels
 * per direction keep the two frame counters, which both start at 0, from ever meeting under one key.
 */
record SessionKeys(byte[] connectorToAcceptor, byte[] acceptorToConnector) {
    private static final int KEY_BYTES = 32;

    static SessionKeys derive(byte[] secret, byte[] acceptorNonce, byte[] connectorNonce, int connectorRank,
                              int acceptorRank, int world) {
        byte[] salt = ByteBuffer.allocate(acceptorNonce.length + connectorNonce.length)
                .put(acceptorNonce).put(connectorNonce).array();
        byte[] prk = hmac(salt, secret);                                   // HKDF-Extract
        byte[] ranks = ByteBuffer.allocate(12).putInt(connectorRank).putInt(acceptorRank).putInt(world).array();
        return new SessionKeys(expand(prk, "connector to acceptor", ranks), expand(prk, "acceptor to connector", ranks));
    }

    /** HKDF-Expand for one block: 32 bytes, all an AES-256 key needs. */
    private static byte[] expand(byte[] prk, String direction, byte[] ranks) {
        byte[] label = ("sparktune-ring aes-gcm key " + direction).getBytes(StandardCharsets.US_ASCII);
        byte[] info = ByteBuffer.allocate(label.length + ranks.length + 1).put(label).put(ranks).put((byte) 1).array();
        byte[] block = hmac(prk, info);
        assert block.length == KEY_BYTES;
        return block;
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }
}
