package dev.sparktune.dist;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual challenge-response authentication of a ring connection with the job's secret, which never crosses the
 * wire: the accepting rank sends a random nonce, the connecting rank answers with its rank, its own nonce and
 * HMAC-SHA256(secret, both nonces, both ranks, world size), and the accepting rank proves the secret back over
 * the same values in the other order. Fresh nonces on both sides make a recorded answer useless for a replay.
 *
 * <p>The listener's hello also says its {@code dist.ring_encryption}; a connecting rank with another mode stops
 * there, naming the key, and both proofs cover the mode, so nobody on the path can talk the ranks down to plain TCP.
 * With {@link RingEncryption#AES_GCM} both sides then derive the connection's {@link SessionKeys} from the secret and
 * the two nonces and seal everything after the handshake.
 */
final class Handshake {
    private static final int MAGIC = 0x53544b52;          // "STKR"
    private static final int VERSION = 2;
    private static final int NONCE_BYTES = 32;
    private static final int MAC_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] secret;
    private final int worldSize;
    private final RingEncryption encryption;

    Handshake(byte[] secret, int worldSize, RingEncryption encryption) {
        if (secret.length < 16) {
            throw new IllegalArgumentException("the job secret must hold at least 16 bytes, got " + secret.length);
        }
        this.secret = secret.clone();
        this.worldSize = worldSize;
        this.encryption = encryption;
    }

    /**
     * The accepting side: returns normally only when the peer proved the secret and is {@code expectedRank};
     * otherwise throws {@link Refused} with the reason.
     */
    void accept(Link link, int ownRank, int expectedRank) {
        byte[] ours = nonce();
        ByteBuffer hello = ByteBuffer.allocate(12 + NONCE_BYTES).putInt(MAGIC).putInt(VERSION).putInt(encryption.ordinal())
                .put(ours).flip();
        link.writeFully(hello, "in the handshake");
        ByteBuffer answer = ByteBuffer.allocate(4 + 4 + NONCE_BYTES + MAC_BYTES);
        link.readFully(answer, "in the handshake");
        answer.flip();
        int theirRank = answer.getInt();
        int theirWorld = answer.getInt();
        byte[] theirs = new byte[NONCE_BYTES];
        byte[] mac = new byte[MAC_BYTES];
        answer.get(theirs).get(mac);
        if (!MessageDigest.isEqual(mac, mac("connect", ours, theirs, theirRank, ownRank, theirWorld))) {
            throw new Refused("it did not prove the job secret (or it uses another dist.ring_encryption than this rank's "
                    + encryption.configName() + ")");
        }
        if (theirWorld != worldSize || theirRank != expectedRank) {
            throw new Refused("it is rank " + theirRank + " of " + theirWorld + ", expected rank " + expectedRank + " of "
                    + worldSize + " (a rank of another attempt of the job?)");
        }
        link.writeFully(ByteBuffer.wrap(mac("accept", theirs, ours, ownRank, theirRank, worldSize)), "in the handshake");
        if (encryption == RingEncryption.AES_GCM) {
            SessionKeys keys = SessionKeys.derive(secret, ours, theirs, theirRank, ownRank, worldSize);
            link.seal(keys.acceptorToConnector(), keys.connectorToAcceptor());
        }
    }

    /**
     * The connecting side: proves the secret and checks that the listener knows it too. Throws {@link Busy} when the
     * listener closed the connection before saying anything.
     */
    void connect(Link link, int ownRank, int peerRank) {
        ByteBuffer hello = ByteBuffer.allocate(12 + NONCE_BYTES);
        try {
            link.readFully(hello, "in the handshake");
        } catch (CollectiveException e) {
            if (hello.position() == 0 && e.getCause() instanceof EOFException) {
                throw new Busy(link.peer() + " closed this rank's connection before the handshake: " + e.getMessage(), e);
            }
            throw e;
        }
        hello.flip();
        if (hello.getInt() != MAGIC || hello.getInt() != VERSION) {
            throw new CollectiveException(link.peer() + " is not a sparktune ring listener of this version");
        }
        int theirMode = hello.getInt();
        if (theirMode != encryption.ordinal()) {
            String named = theirMode >= 0 && theirMode < RingEncryption.values().length
                    ? RingEncryption.values()[theirMode].configName() : "unknown mode " + theirMode;
            throw new CollectiveException(link.peer() + " runs its ring with dist.ring_encryption: " + named + ", this rank "
                    + "with " + encryption.configName() + "; every rank must use the same dist.ring_encryption (set it "
                    + "explicitly, or give every executor the same spark.ssl.enabled and spark.network.crypto.enabled)");
        }
        byte[] theirs = new byte[NONCE_BYTES];
        hello.get(theirs);
        byte[] ours = nonce();
        ByteBuffer answer = ByteBuffer.allocate(4 + 4 + NONCE_BYTES + MAC_BYTES)
                .putInt(ownRank).putInt(worldSize).put(ours).put(mac("connect", theirs, ours, ownRank, peerRank, worldSize)).flip();
        link.writeFully(answer, "in the handshake");
        ByteBuffer proof = ByteBuffer.allocate(MAC_BYTES);
        try {
            link.readFully(proof, "in the handshake");
        } catch (CollectiveException e) {
            throw new CollectiveException(link.peer() + " refused this rank's connection (does every rank use the same job "
                    + "secret, world size and dist.ring_encryption?): " + e.getMessage(), e);
        }
        if (!MessageDigest.isEqual(proof.array(), mac("accept", ours, theirs, peerRank, ownRank, worldSize))) {
            throw new CollectiveException(link.peer() + " did not prove the job secret; refusing to exchange data with it");
        }
        if (encryption == RingEncryption.AES_GCM) {
            SessionKeys keys = SessionKeys.derive(secret, theirs, ours, ownRank, peerRank, worldSize);
            link.seal(keys.connectorToAcceptor(), keys.acceptorToConnector());
        }
    }

    private byte[] mac(String role, byte[] first, byte[] second, int fromRank, int toRank, int world) {
        try {
            Mac hmac = Mac.getInstance("HmacSHA256");
            hmac.init(new SecretKeySpec(secret, "HmacSHA256"));
            hmac.update(("sparktune-ring " + role).getBytes(StandardCharsets.US_ASCII));
            hmac.update(first);
            hmac.update(second);
            hmac.update(ByteBuffer.allocate(16).putInt(fromRank).putInt(toRank).putInt(world).putInt(encryption.ordinal())
                    .array());
            return hmac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }

    private static byte[] nonce() {
        byte[] n = new byte[NONCE_BYTES];
        RANDOM.nextBytes(n);
        return n;
    }

    /**
     * The listener closed a connection before its hello: it was shaking hands with as many connections as it takes
     * (strangers on its port, see {@link RingListener#MAX_HANDSHAKES}). The connecting rank dials again.
     */
    static final class Busy extends CollectiveException {
        Busy(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A connection the accepting side turned away; the listener logs it and keeps waiting for the real peer. */
    static final class Refused extends RuntimeException {
        Refused(String reason) {
            super(reason);
        }
    }
}
