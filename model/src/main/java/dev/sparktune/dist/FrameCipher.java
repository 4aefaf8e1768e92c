package dev.sparktune.dist;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM over the frames of one direction of a ring connection. A frame is its ciphertext's length (4 bytes,
 * authenticated as associated data) followed by the ciphertext and its 16-byte tag. The 96-bit nonce is the frame's
 * number in this direction (never sent, never reused under the key), so a frame replayed, dropped or moved opens
 * under the wrong nonce and fails like an altered one. One thread uses an instance.
 */
final class FrameCipher {
    static final int HEADER_BYTES = 4;
    static final int TAG_BYTES = 16;
    /** The most plaintext one frame carries; a longer write becomes several frames. */
    static final int MAX_PLAINTEXT = 1 << 20;

    private final Cipher cipher;
    private final SecretKeySpec key;
    private final int mode;
    private final byte[] nonce = new byte[12];
    private final byte[] header = new byte[HEADER_BYTES];
    private long frames;

    private FrameCipher(byte[] key, int mode) {
        try {
            this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM/NoPadding is missing from this JVM", e);
        }
        this.key = new SecretKeySpec(key, "AES");
        this.mode = mode;
    }

    static FrameCipher sealing(byte[] key) {
        return new FrameCipher(key, Cipher.ENCRYPT_MODE);
    }

    static FrameCipher opening(byte[] key) {
        return new FrameCipher(key, Cipher.DECRYPT_MODE);
    }

    /** A buffer that holds any frame this class writes or reads; direct, so that sockets take it without a copy. */
    static ByteBuffer frameBuffer() {
        return ByteBuffer.allocateDirect(HEADER_BYTES + MAX_PLAINTEXT + TAG_BYTES);
    }

    /**
     * Seals up to {@link #MAX_PLAINTEXT} bytes of {@code plain} (its position moves past them) into {@code frame},
     * which is returned flipped, header first, ready to write.
     */
    ByteBuffer seal(ByteBuffer plain, ByteBuffer frame) {
        int length = Math.min(plain.remaining(), MAX_PLAINTEXT);
        frame.clear().putInt(length + TAG_BYTES);
        ByteBuffer part = plain.slice(plain.position(), length);
        try {
            start(length + TAG_BYTES);
            cipher.doFinal(part, frame);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed to seal a frame", e);
        }
        plain.position(plain.position() + length);
        return frame.flip();
    }

    /**
     * Opens the sealed bytes of one frame (from {@code sealed}'s position to its limit, as many as its header said)
     * into {@code plain}, which must have room for them less the tag.
     *
     * @throws AEADBadTagException when the frame is not the next one this direction's sender sealed, intact
     */
    void open(ByteBuffer sealed, ByteBuffer plain) throws AEADBadTagException {
        try {
            start(sealed.remaining());
            cipher.doFinal(sealed, plain);
        } catch (AEADBadTagException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed to open a frame", e);
        }
    }

    /** Readies the cipher for the next frame: its number as the nonce, its header (the sealed length) as associated data. */
    private void start(int sealedBytes) throws GeneralSecurityException {
        if (frames == Long.MAX_VALUE) {
            throw new IllegalStateException("this connection has sealed 2^63 frames; its nonces are spent");
        }
        long n = frames++;
        for (int i = 0; i < 8; i++) {
            nonce[4 + i] = (byte) (n >>> (56 - 8 * i));
        }
        cipher.init(mode, key, new GCMParameterSpec(TAG_BYTES * 8, nonce));
        for (int i = 0; i < HEADER_BYTES; i++) {
            header[i] = (byte) (sealedBytes >>> (24 - 8 * i));
        }
        cipher.updateAAD(header);
    }
}
