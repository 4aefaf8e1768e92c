package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.crypto.AEADBadTagException;
import org.junit.jupiter.api.Test;

/** The frames of one direction open only intact, once each and in the order they were sealed. */
class FrameCipherTest {
    private static final byte[] KEY = SessionKeys.derive("secret-of-this-test-job".getBytes(StandardCharsets.UTF_8),
            new byte[32], new byte[32], 0, 1, 2).connectorToAcceptor();

    @Test
    void framesOpenInOrderToWhatWasSealed() throws Exception {
        List<byte[]> frames = seal(3);
        FrameCipher opener = FrameCipher.opening(KEY);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(plain(i), open(opener, frames.get(i)));
        }
    }

    @Test
    void aFrameOutOfOrderReplayedTruncatedOrAlteredDoesNotOpen() throws Exception {
        List<byte[]> frames = seal(3);

        FrameCipher skipping = FrameCipher.opening(KEY);
        open(skipping, frames.get(0));
        assertThrows(AEADBadTagException.class, () -> open(skipping, frames.get(2)), "out of order");

        FrameCipher replayed = FrameCipher.opening(KEY);
        open(replayed, frames.get(0));
        assertThrows(AEADBadTagException.class, () -> open(replayed, frames.get(0)), "replayed");

        byte[] cut = Arrays.copyOf(frames.get(0), frames.get(0).length - 1);
        ByteBuffer.wrap(cut).putInt(0, cut.length - FrameCipher.HEADER_BYTES);
        assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(KEY), cut), "truncated");

        for (int at : new int[] {FrameCipher.HEADER_BYTES, 10, frames.get(0).length - 1}) {
            byte[] altered = frames.get(0).clone();
            altered[at] ^= 0x01;
            assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(KEY), altered), "byte " + at);
        }
        // a header that lies about the length: the reader takes that many bytes of the stream, one of the next frame's
        byte[] stream = new byte[frames.get(0).length + frames.get(1).length];
        System.arraycopy(frames.get(0), 0, stream, 0, frames.get(0).length);
        System.arraycopy(frames.get(1), 0, stream, frames.get(0).length, frames.get(1).length);
        ByteBuffer.wrap(stream).putInt(0, frames.get(0).length - FrameCipher.HEADER_BYTES + 1);
        assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(KEY), stream), "a longer header");

        byte[] otherKey = SessionKeys.derive("secret-of-this-test-job".getBytes(StandardCharsets.UTF_8),
                new byte[32], new byte[32], 0, 1, 2).acceptorToConnector();
        assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(otherKey), frames.get(0)),
                "the other direction's key");
    }

    @Test
    void aLongWriteIsCutIntoFramesOfAtMostTheLimit() {
        ByteBuffer plain = ByteBuffer.allocate(FrameCipher.MAX_PLAINTEXT + 5);
        FrameCipher sealer = FrameCipher.sealing(KEY);
        ByteBuffer frame = sealer.seal(plain, FrameCipher.frameBuffer());
        assertEquals(FrameCipher.MAX_PLAINTEXT + FrameCipher.TAG_BYTES, frame.getInt(0));
        assertEquals(5, plain.remaining());
    }

    private static byte[] plain(int i) {
        return ("frame " + i + " of gradients").getBytes(StandardCharsets.UTF_8);
    }

    private static List<byte[]> seal(int n) {
        FrameCipher sealer = FrameCipher.sealing(KEY);
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer frame = sealer.seal(ByteBuffer.wrap(plain(i)), FrameCipher.frameBuffer());
            byte[] bytes = new byte[frame.remaining()];
            frame.get(bytes);
            frames.add(bytes);
        }
        return frames;
    }

    /** Opens the first frame of {@code stream} as Link reads it: as many sealed bytes as its header says. */
    private static byte[] open(FrameCipher opener, byte[] stream) throws AEADBadTagException {
        int sealedBytes = ByteBuffer.wrap(stream).getInt();
        ByteBuffer sealed = ByteBuffer.wrap(stream, FrameCipher.HEADER_BYTES, sealedBytes).slice();
        ByteBuffer plain = ByteBuffer.allocate(stream.length);
        opener.open(sealed, plain);
        return Arrays.copyOf(plain.array(), plain.position());
    }
}
