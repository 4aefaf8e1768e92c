package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * dist.ring_encryption: aes-gcm over real loopback connections, ranks as threads of this JVM: the same bits as plain
 * TCP, and what a man in the middle (a real relay thread, {@link TcpRelay}) can and cannot do with each mode.
 */
@ExtendWith(NoLeaks.class)
class RingEncryptionTest {
    private static final RingOptions PLAIN = LoopbackRing.options(Duration.ofSeconds(30));
    private static final RingOptions SEALED = PLAIN.withEncryption(RingEncryption.AES_GCM);
    /** Elements of the relay tests' buffers: 256 KiB of floats, one 128 KiB chunk per half. */
    private static final int SIZE = 64 * 1024;

    @Test
    void aesGcmGivesExactlyTheBitsOfPlainTcpAtTwoAndThreeRanks() {
        for (int n = 2; n <= 3; n++) {
            // 2 MiB chunks: a write larger than a frame goes out as several frames
            for (RingOptions base : List.of(PLAIN, PLAIN.withChunkBytes(2 << 20))) {
                List<List<Object>> plain = everyOperation(n, base);
                List<List<Object>> sealed = everyOperation(n, base.withEncryption(RingEncryption.AES_GCM));
                for (int r = 0; r < n; r++) {
                    for (int op = 0; op < plain.get(r).size(); op++) {
                        Object p = plain.get(r).get(op);
                        Object s = sealed.get(r).get(op);
                        if (p instanceof float[] f) {
                            assertArrayEquals(f, (float[]) s, "N=" + n + ", rank " + r + ", operation " + op);
                        } else {
                            assertArrayEquals((double[]) p, (double[]) s, "N=" + n + ", rank " + r + ", operation " + op);
                        }
                    }
                }
            }
        }
    }

    /** Every rank's buffers after a float sum, a double average, a reduce-scatter, an all-gather and a broadcast. */
    private static List<List<Object>> everyOperation(int n, RingOptions options) {
        List<Collective> ring = LoopbackRing.open(n, options);
        try {
            return RankThreads.all(ring, c -> {
                List<Object> out = new ArrayList<>();
                float[] f = pattern(1_000_003, c.rank());
                c.allReduce(f, 0, f.length, Reduction.SUM);
                out.add(f);
                double[] d = new double[13];
                for (int i = 0; i < d.length; i++) {
                    d[i] = Math.sin(i + c.rank()) / 3;
                }
                c.allReduce(d, 0, d.length, Reduction.AVERAGE);
                out.add(d);
                float[] shard = pattern(100_003, c.rank() + 7);
                c.reduceScatter(shard, 0, shard.length, Reduction.AVERAGE);
                out.add(shard);
                float[] gathered = pattern(1009, c.rank() + 11);
                c.allGather(gathered, 0, gathered.length);
                out.add(gathered);
                float[] root = pattern(5, c.rank() + 13);
                c.broadcast(root, 0, root.length, n - 1);
                out.add(root);
                c.barrier();
                return out;
            });
        } finally {
            ring.forEach(Collective::close);
        }
    }

    @Test
    void aManInTheMiddleRelayThreadFlippingOneByteOfASealedFrameFailsTheCollectiveWithTheAuthenticationError()
            throws Exception {
        List<RankThreads.Outcome<float[]>> outcomes = allReduceThroughRelay(SEALED, flipOffset());
        Throwable receiver = outcomes.get(1).failure();
        assertInstanceOf(FrameAuthenticationException.class, receiver, String.valueOf(receiver));
        assertTrue(receiver.getMessage().contains("failed authentication") && receiver.getMessage().contains("rank 0")
                && receiver.getMessage().contains("dist.ring_encryption: aes-gcm"), receiver.getMessage());
        Throwable sender = outcomes.get(0).failure();
        assertInstanceOf(CollectiveException.class, sender, "rank 0 fails too, when rank 1 closes its connections");
    }

    /** The premise of the test above: the same flip on a plain ring goes unnoticed and changes the sum. */
    @Test
    void aManInTheMiddleRelayThreadFlippingOneByteOfAPlainRingChangesTheSumUnnoticed() throws Exception {
        List<RankThreads.Outcome<float[]>> outcomes = allReduceThroughRelay(PLAIN, flipOffset());
        float[] expected = pattern(SIZE, 0);
        float[] other = pattern(SIZE, 1);
        for (int i = 0; i < SIZE; i++) {
            expected[i] += other[i];
        }
        for (RankThreads.Outcome<float[]> o : outcomes) {
            assertFalse(java.util.Arrays.equals(expected, o.get()), "the flipped byte should have changed the sum");
        }
    }

    @Test
    void aManInTheMiddleRelayThreadRecordingTheRingSeesTheGradientsInPlainTcpAndNotWithAesGcm() throws Exception {
        byte[] gradients = littleEndian(pattern(SIZE, 0));
        try (TcpRelay plain = relayedAllReduce(PLAIN)) {
            assertTrue(containsAnyRun(plain.recorded(), gradients), "the premise: plain TCP carries rank 0's floats");
        }
        try (TcpRelay sealed = relayedAllReduce(SEALED)) {
            byte[] seen = sealed.recorded();
            assertTrue(seen.length > 2 * SIZE, "the relay saw " + seen.length + " bytes");
            assertFalse(containsAnyRun(seen, gradients), "16 bytes in a row of rank 0's floats crossed the relay");
        }
    }

    @Test
    void ranksWithDifferentModesFailTheHandshakeNamingTheKey() throws Exception {
        try (RingListener listener = RingListener.bind(PLAIN)) {
            Handshake plain = new Handshake(LoopbackRing.SECRET, 2, RingEncryption.NONE);
            Handshake sealed = new Handshake(LoopbackRing.SECRET, 2, RingEncryption.AES_GCM);
            FutureTask<Link> accepting = new FutureTask<>(
                    () -> listener.accept(plain, 1, 0, "rank 0", TimeUnit.SECONDS.toNanos(3)));
            Thread acceptor = new Thread(accepting, "acceptor");
            acceptor.start();
            String[] hostPort = listener.address().split(":");
            try (Link link = Link.dial(new java.net.InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])),
                    "rank 1", TimeUnit.SECONDS.toNanos(3), RingOptions.DEFAULT_SOCKET_BUFFER_BYTES)) {
                CollectiveException e = assertThrows(CollectiveException.class, () -> sealed.connect(link, 0, 1));
                assertTrue(e.getMessage().contains("dist.ring_encryption: none, this rank with aes-gcm"), e.getMessage());
            }
            acceptor.join();
            assertThrows(java.util.concurrent.ExecutionException.class, accepting::get, "the listener got no peer");
        }
    }

    @Test
    void aRingWithMixedModesFailsEveryRankAndNamesTheKey() {
        List<RingListener> listeners = LoopbackRing.bind(2, PLAIN);
        List<String> addresses = LoopbackRing.addresses(listeners);
        List<RankThreads.Outcome<RingCollective>> outcomes = RankThreads.outcomes(2, r -> RingCollective.connect(
                listeners.get(r), r, addresses, LoopbackRing.SECRET, r == 0 ? SEALED : PLAIN), Duration.ofSeconds(60));
        List<String> messages = new ArrayList<>();
        for (RankThreads.Outcome<RingCollective> o : outcomes) {
            if (o.value() != null) {
                o.value().close();
            }
            assertNotNull(o.failure(), "a rank joined a ring of mixed modes");
            messages.add(o.failure().getMessage());
        }
        // each rank dials the other; whichever dials first meets the other's mode and stops, naming the key
        assertTrue(messages.stream().anyMatch(m -> m.contains("every rank must use the same dist.ring_encryption")),
                messages.toString());
    }

    /** rank 0's bytes to rank 1 pass through a relay that flips the byte at {@code flipAt}. */
    private static List<RankThreads.Outcome<float[]>> allReduceThroughRelay(RingOptions options, long flipAt)
            throws Exception {
        List<RingListener> listeners = LoopbackRing.bind(2, options);
        List<String> addresses = LoopbackRing.addresses(listeners);
        try (TcpRelay relay = new TcpRelay(addresses.get(1), flipAt)) {
            return RankThreads.outcomes(2, r -> {
                List<String> seen = r == 0 ? List.of(addresses.get(0), relay.address()) : addresses;
                try (RingCollective c = RingCollective.connect(listeners.get(r), r, seen, LoopbackRing.SECRET, options)) {
                    float[] b = pattern(SIZE, r);
                    c.allReduce(b, 0, SIZE, Reduction.SUM);
                    return b;
                }
            }, Duration.ofSeconds(60));
        }
    }

    /** A relay, still open, that carried one successful all-reduce from rank 0 to rank 1. */
    private static TcpRelay relayedAllReduce(RingOptions options) throws Exception {
        List<RingListener> listeners = LoopbackRing.bind(2, options);
        List<String> addresses = LoopbackRing.addresses(listeners);
        TcpRelay relay = new TcpRelay(addresses.get(1), -1);
        try {
            RankThreads.outcomes(2, r -> {
                List<String> seen = r == 0 ? List.of(addresses.get(0), relay.address()) : addresses;
                try (RingCollective c = RingCollective.connect(listeners.get(r), r, seen, LoopbackRing.SECRET, options)) {
                    float[] b = pattern(SIZE, r);
                    c.allReduce(b, 0, SIZE, Reduction.SUM);
                    return b;
                }
            }, Duration.ofSeconds(60)).forEach(RankThreads.Outcome::get);
            return relay;
        } catch (RuntimeException | Error e) {
            relay.close();
            throw e;
        }
    }

    /**
     * A byte well inside the first chunk rank 0 sends, in either mode: past the handshake's 72 bytes and the call
     * header (at most 4 + 4096 bytes, plus a frame's 20 when sealed), short of the chunk's 128 KiB.
     */
    private static long flipOffset() {
        return 72 + 4 + 4096 + 20 + 1000;
    }

    /** Distinctive, exactly summable floats: no two 16-byte runs alike. */
    private static float[] pattern(int size, int rank) {
        float[] b = new float[size];
        for (int i = 0; i < size; i++) {
            b[i] = 1000 * rank + i + 0.25f;
        }
        return b;
    }

    private static byte[] littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b.array();
    }

    /** Whether any 16 bytes of {@code plaintext} that start at a float boundary appear anywhere in {@code seen}. */
    private static boolean containsAnyRun(byte[] seen, byte[] plaintext) {
        Set<ByteBuffer> runs = new HashSet<>();
        for (int i = 0; i + 16 <= plaintext.length; i += Float.BYTES) {
            runs.add(ByteBuffer.wrap(plaintext, i, 16).slice());
        }
        for (int i = 0; i + 16 <= seen.length; i++) {
            if (runs.contains(ByteBuffer.wrap(seen, i, 16).slice())) {
                return true;
            }
        }
        return false;
    }
}
