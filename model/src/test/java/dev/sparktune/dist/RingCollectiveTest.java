package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The contract over real TCP connections on loopback, ranks as threads of this JVM, and the ring's failures. */
class RingCollectiveTest extends CollectiveContractTest {
    private static final Pattern NAMED_PEER = Pattern.compile("rank \\d \\(127\\.0\\.0\\.1:\\d+\\)");

    @Override
    protected List<Collective> open(int n) {
        return LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)));
    }

    /**
     * With bfloat16 on the wire every hop rounds the partial sum to 8 significant bits (unit roundoff 2^-8), and the
     * owner rounds the result once more before sending it on: N-1 + 1 roundings of values of magnitude at most
     * Σ|x|, plus float additions (2^-24 each), within N·(2^-8 + 2^-23)·Σ|x|.
     */
    @Test
    void bf16ReductionsOfOffHeapBuffersGiveTheSameBitsAsArrays() {
        int n = 3;
        int size = 100_003;
        float[][] inputs = floatInputs(n, size, 12);
        List<Collective> ring = LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)).withBf16Reductions(true));
        List<float[][]> results;
        try {
            results = RankThreads.all(ring, c -> {
                float[] a = inputs[c.rank()].clone();
                FlatBuffer b = offHeap(a);
                c.allReduce(a, 0, size, Reduction.AVERAGE);
                c.allReduce(b, 0, size, Reduction.AVERAGE);
                float[] sa = inputs[c.rank()].clone();
                FlatBuffer sb = offHeap(sa);
                c.reduceScatter(sa, 0, size, Reduction.SUM);
                c.reduceScatter(sb, 0, size, Reduction.SUM);
                return new float[][] {a, floats(b), sa, floats(sb)};
            });
        } finally {
            ring.forEach(Collective::close);
        }
        Shards shards = new Shards(size, n);
        for (int r = 0; r < n; r++) {
            float[][] mine = results.get(r);
            assertArrayEquals(mine[0], mine[1], "all-reduce, rank " + r);
            int from = (int) shards.start(r);
            int to = (int) shards.end(r);
            assertArrayEquals(Arrays.copyOfRange(mine[2], from, to), Arrays.copyOfRange(mine[3], from, to),
                    "reduce-scatter, rank " + r);
        }
    }

    @Test
    void bf16ReductionsAreWithinBfloat16RoundingAndSameOnEveryRank() {
        for (int n = 2; n <= 4; n++) {
            for (int size : new int[] {1, 13, 100_003}) {
                float[][] inputs = floatInputs(n, size, 11);
                List<Collective> ring = LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)).withBf16Reductions(true));
                List<float[]> results;
                try {
                    results = RankThreads.all(ring, c -> {
                        float[] b = inputs[c.rank()].clone();
                        c.allReduce(b, 0, size, Reduction.AVERAGE);
                        return b;
                    });
                } finally {
                    ring.forEach(Collective::close);
                }
                for (float[] result : results) {
                    assertArrayEquals(results.get(0), result, "every rank holds the same bits");
                }
                for (int i = 0; i < size; i++) {
                    float v = results.get(0)[i];
                    assertEquals(0, Float.floatToRawIntBits(v) & 0xffff, "element " + i + " = " + v + " is not a bfloat16 value");
                    checkReduced(Reduction.AVERAGE, n, i, v, inputs, Math.scalb(1.0, -8) + Math.scalb(1.0, -23));
                }
            }
        }
    }

    @Test
    void aRankWithTheWrongSecretIsRefusedAndNobodyHangs() {
        RingOptions options = LoopbackRing.options(Duration.ofSeconds(2));
        List<RingListener> listeners = LoopbackRing.bind(3, options);
        List<String> addresses = LoopbackRing.addresses(listeners);
        byte[] wrong = "not-the-secret-of-this-job".getBytes(StandardCharsets.UTF_8);
        long start = System.nanoTime();
        List<RankThreads.Outcome<RingCollective>> outcomes = RankThreads.outcomes(3, r -> RingCollective.connect(
                listeners.get(r), r, addresses, r == 2 ? wrong : LoopbackRing.SECRET, options), Duration.ofSeconds(30));
        double seconds = (System.nanoTime() - start) / 1e9;
        for (RankThreads.Outcome<RingCollective> o : outcomes) {
            if (o.value() != null) {
                o.value().close();
            }
        }
        // rank 2 connects to rank 0, which refuses it; rank 0 never gets its ring neighbour: both fail. Rank 0 may
        // first hear of rank 1 giving up (rank 1's own handshake with the impostor fails too): either is its failure
        Throwable impostor = outcomes.get(2).failure();
        assertInstanceOf(CollectiveException.class, impostor);
        assertTrue(impostor.getMessage().contains("refused this rank's connection"), impostor.getMessage());
        Throwable refuser = outcomes.get(0).failure();
        assertInstanceOf(CollectiveException.class, refuser);
        assertTrue(refuser.getMessage().contains("rank 2 (" + addresses.get(2) + ") did not connect and prove the job secret")
                || refuser.getMessage().contains("lost rank 1 (" + addresses.get(1) + ")"), refuser.getMessage());
        assertTrue(seconds < 10, "failed after " + seconds + " s with a 2 s timeout");
    }

    @Test
    void strangersWithoutTheSecretAreRefusedWhileTheRingStillForms() throws IOException {
        RingOptions options = LoopbackRing.options(Duration.ofSeconds(20));
        List<RingListener> listeners = LoopbackRing.bind(2, options);
        List<String> addresses = LoopbackRing.addresses(listeners);
        String[] hostPort = addresses.get(1).split(":");
        InetSocketAddress rank1 = new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1]));
        // the first connection to rank 1 never says anything; it must not hold up the real peer
        try (SocketChannel silent = SocketChannel.open(rank1)) {
            long start = System.nanoTime();
            List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(3, r -> {
                if (r == 2) {
                    return guessTheSecret(rank1);
                }
                try (RingCollective c = RingCollective.connect(listeners.get(r), r, addresses, LoopbackRing.SECRET, options)) {
                    float[] b = {r + 1f, 10f};
                    c.allReduce(b, 0, 2, Reduction.SUM);
                    assertArrayEquals(new float[] {3f, 20f}, b);
                    return null;
                }
            }, Duration.ofSeconds(60));
            double seconds = (System.nanoTime() - start) / 1e9;
            outcomes.forEach(RankThreads.Outcome::get);
            assertEquals(-1, outcomes.get(2).value(), "the guessing stranger's connection was closed");
            // a handshake may take 5 s before it is given up: well below that, nobody waited for the stranger
            assertTrue(seconds < 4, "the ring took " + seconds + " s to form; the silent stranger held it up");
            assertEquals(-1, silent.read(ByteBuffer.allocate(64)) < 0 ? -1 : readToEnd(silent), "the silent stranger was cut off");
        }
    }

    /** Connects, reads the challenge, answers with zeros, and returns what the next read gives (-1: closed). */
    private static int guessTheSecret(InetSocketAddress listener) {
        try (SocketChannel stranger = SocketChannel.open(listener)) {
            ByteBuffer challenge = ByteBuffer.allocate(44);
            while (challenge.hasRemaining() && stranger.read(challenge) >= 0) {
                // the listener's hello: magic, version, encryption, nonce
            }
            stranger.write(ByteBuffer.wrap(new byte[72]));
            return stranger.read(ByteBuffer.allocate(32));
        } catch (IOException e) {
            return -1;                      // reset by the listener: refused as well
        }
    }

    private static int readToEnd(SocketChannel channel) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        int n;
        do {
            b.clear();
            n = channel.read(b);
        } while (n > 0);
        return n;
    }

    @Test
    void aRankThatClosesMidCallFailsEveryOtherRankNamingAPeer() {
        List<Collective> ring = LoopbackRing.open(4, LoopbackRing.options(Duration.ofSeconds(30)));
        long start = System.nanoTime();
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(ring, c -> {
            try {
                float[] b = new float[1 << 22];
                for (int i = 0; i < 1000; i++) {
                    if (c.rank() == 2 && i == 3) {
                        c.close();
                        return null;
                    }
                    c.allReduce(b, 0, b.length, Reduction.SUM);
                }
                return null;
            } finally {
                c.close();
            }
        }, Duration.ofSeconds(60));
        double seconds = (System.nanoTime() - start) / 1e9;
        for (int r : new int[] {0, 1, 3}) {
            Throwable failure = outcomes.get(r).failure();
            assertInstanceOf(CollectiveException.class, failure, "rank " + r);
            assertTrue(NAMED_PEER.matcher(failure.getMessage()).find(), failure.getMessage());
        }
        // rank 3 receives from rank 2 directly
        assertTrue(outcomes.get(3).failure().getMessage().contains("rank 2 (127.0.0.1:"), outcomes.get(3).failure().getMessage());
        assertTrue(seconds < 30, "took " + seconds + " s, the timeout is 30 s: failure must not wait for it");
    }

    @Test
    void aBarrierWithItsOwnTimeoutWaitsPastTheCollectiveTimeoutAndTheRingStaysUsable() {
        // 3 ranks: rank 2 receives rank 0's element through rank 1, whose sender waits for it too
        List<Collective> ring = LoopbackRing.open(3, LoopbackRing.options(Duration.ofSeconds(1)));
        List<double[]> sums = RankThreads.all(ring, c -> {
            try (c) {
                if (c.rank() == 0) {
                    Thread.sleep(2500);         // rank 0 writing a checkpoint, longer than the 1 s timeout
                }
                c.barrier(Duration.ofSeconds(30));
                double[] one = {1};
                c.allReduce(one, 0, 1, Reduction.SUM);
                return one;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        for (double[] sum : sums) {
            assertEquals(3.0, sum[0]);
        }
    }

    @Test
    void aRankThatStopsCallingMakesTheOthersTimeOutNamingIt() {
        List<Collective> ring = LoopbackRing.open(3, LoopbackRing.options(Duration.ofSeconds(1)));
        long start = System.nanoTime();
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(ring, c -> {
            try {
                if (c.rank() == 1) {
                    Thread.sleep(4000);         // alive and connected, but never calls
                    return null;
                }
                c.allReduce(new double[1000], 0, 1000, Reduction.SUM);
                return null;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            } finally {
                c.close();
            }
        }, Duration.ofSeconds(30));
        double seconds = (System.nanoTime() - start) / 1e9;
        // rank 2 waits for rank 1's data and times out; rank 0 then loses rank 2 (or times out too)
        Throwable waiting = outcomes.get(2).failure();
        assertInstanceOf(CollectiveException.class, waiting);
        assertTrue(waiting.getMessage().contains("timed out receiving from rank 1 (127.0.0.1:"), waiting.getMessage());
        assertTrue(waiting.getMessage().contains("no progress for 1 s"), waiting.getMessage());
        assertInstanceOf(CollectiveException.class, outcomes.get(0).failure());
        assertTrue(seconds < 8, "took " + seconds + " s");
    }

    @Test
    void ranksCallingDifferentOperationsFailNamingBothCalls() {
        List<Collective> ring = LoopbackRing.open(2, LoopbackRing.options(Duration.ofSeconds(10)));
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(ring, c -> {
            try {
                if (c.rank() == 0) {
                    c.allReduce(new float[8], 0, 8, Reduction.SUM);
                } else {
                    c.broadcast(new float[8], 0, 8, 0);
                }
                return null;
            } finally {
                c.close();
            }
        }, Duration.ofSeconds(30));
        for (RankThreads.Outcome<Object> o : outcomes) {
            assertInstanceOf(CollectiveException.class, o.failure());
        }
        String message = outcomes.get(0).failure().getMessage() + " / " + outcomes.get(1).failure().getMessage();
        assertTrue(message.contains("different collectives"), message);
    }

    @Test
    void everyCallFailsAfterAFailure() {
        List<Collective> ring = LoopbackRing.open(2, LoopbackRing.options(Duration.ofSeconds(10)));
        ring.get(1).close();
        Collective survivor = ring.get(0);
        assertThrows(CollectiveException.class, () -> survivor.allReduce(new float[4], 0, 4, Reduction.SUM));
        CollectiveException again = assertThrows(CollectiveException.class, survivor::barrier);
        assertTrue(again.getMessage().contains("unusable"), again.getMessage());
        survivor.close();
    }

    @Test
    void aListenerBindsInsideTheConfiguredBlock() {
        try (RingListener listener = RingListener.bind(RingOptions.defaults().withNetworkCidr("127.0.0.0/8"))) {
            assertTrue(listener.address().startsWith("127."), listener.address());
        }
        CollectiveException none = assertThrows(CollectiveException.class,
                () -> RingListener.bind(RingOptions.defaults().withNetworkCidr("203.0.113.0/24")));
        assertTrue(none.getMessage().contains("dist.network_cidr 203.0.113.0/24"), none.getMessage());
    }
}
