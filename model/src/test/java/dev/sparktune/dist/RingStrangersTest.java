package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The ring listener against stray clients while the ring forms, and ranks that Spark's cancellation interrupts,
 * over real loopback sockets. Each finding of issue 19 about them (no cap on connections, a trickling client holding
 * a handshake for minutes, an interrupted rank spinning in select() until the collective timeout) has a test here.
 */
@ExtendWith(NoLeaks.class)
class RingStrangersTest {
    private static final RingOptions OPTIONS = LoopbackRing.options(Duration.ofSeconds(60));

    private final List<Stranger> strangers = new ArrayList<>();

    @AfterEach
    void stopStrangers() throws InterruptedException {
        for (Stranger s : strangers) {
            s.stop();
        }
    }

    @Test
    void connectionsBeyondTheCapAreClosedAtOnceWhileTheRingForms() throws Exception {
        List<RingListener> listeners = LoopbackRing.bind(2, OPTIONS);
        List<String> addresses = LoopbackRing.addresses(listeners);
        // rank 1 waits for rank 0 to connect; rank 0 is late, and strangers come first
        CompletableFuture<RingCollective> rank1 = rankOnThread(r -> RingCollective.connect(listeners.get(r), r, addresses,
                LoopbackRing.SECRET, OPTIONS), 1);
        List<Stranger> silent = new ArrayList<>();
        for (int i = 0; i < RingListener.MAX_HANDSHAKES; i++) {
            silent.add(stranger(addresses.get(1), false));
        }
        for (Stranger s : silent) {
            s.awaitHello(Duration.ofSeconds(10));        // each has a handshake of its own now
        }
        List<Stranger> extra = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            extra.add(stranger(addresses.get(1), false));
        }
        for (Stranger s : extra) {
            assertTrue(s.awaitClosed(Duration.ofSeconds(2)), "a connection beyond the cap was not closed at once");
            assertTrue(!s.sawHello(), "a connection beyond the cap got a handshake");
        }
        try (RingCollective r0 = RingCollective.connect(listeners.get(0), 0, addresses, LoopbackRing.SECRET, OPTIONS);
             RingCollective r1 = rank1.get(30, TimeUnit.SECONDS)) {
            allReduceWorks(r0, r1);
        }
    }

    @Test
    void aStrangerTricklingItsHandshakeIsDroppedAfterTheDeadlineNotHeld() throws Exception {
        List<RingListener> listeners = LoopbackRing.bind(2, OPTIONS);
        List<String> addresses = LoopbackRing.addresses(listeners);
        CompletableFuture<RingCollective> rank1 = rankOnThread(r -> RingCollective.connect(listeners.get(r), r, addresses,
                LoopbackRing.SECRET, OPTIONS), 1);
        Stranger loris = stranger(addresses.get(1), true);
        loris.awaitHello(Duration.ofSeconds(10));
        long start = System.nanoTime();
        // one byte a second never trips a timeout on progress: only the deadline on the whole handshake ends it
        assertTrue(loris.awaitClosed(Duration.ofNanos(RingListener.HANDSHAKE_NANOS).plusSeconds(4)),
                "the trickling stranger still held its handshake");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds > TimeUnit.NANOSECONDS.toSeconds(RingListener.HANDSHAKE_NANOS) - 2, "dropped after " + seconds + " s");
        try (RingCollective r0 = RingCollective.connect(listeners.get(0), 0, addresses, LoopbackRing.SECRET, OPTIONS);
             RingCollective r1 = rank1.get(30, TimeUnit.SECONDS)) {
            allReduceWorks(r0, r1);
        }
    }

    /**
     * Chaos: before the ranks join, slow-loris strangers queue on every listener, more than it shakes hands with.
     * The real peers are turned away while the strangers hold the handshakes, dial again, and the ring forms once
     * the strangers' deadline has passed.
     */
    @Test
    void theRingFormsWhileSlowLorisStrangersHoldEveryHandshake() throws IOException {
        int n = 3;
        List<RingListener> listeners = LoopbackRing.bind(n, OPTIONS);
        List<String> addresses = LoopbackRing.addresses(listeners);
        for (String address : addresses) {
            for (int i = 0; i < RingListener.MAX_HANDSHAKES + 4; i++) {
                strangers.add(new Stranger(address, true));     // in the listener's backlog until the ring forms
            }
        }
        long start = System.nanoTime();
        List<Collective> ring = new ArrayList<>();
        for (RankThreads.Outcome<Collective> o : RankThreads.outcomes(n, r -> (Collective) RingCollective.connect(
                listeners.get(r), r, addresses, LoopbackRing.SECRET, OPTIONS), Duration.ofSeconds(50))) {
            ring.add(o.get());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        try {
            List<float[]> sums = RankThreads.all(ring, c -> {
                float[] b = {c.rank() + 1f};
                c.allReduce(b, 0, 1, Reduction.SUM);
                return b;
            });
            for (float[] sum : sums) {
                assertArrayEquals(new float[] {6f}, sum);
            }
        } finally {
            ring.forEach(Collective::close);
        }
        assertTrue(seconds < 30, "the ring took " + seconds + " s to form against a 60 s timeout");
        for (Stranger s : strangers) {
            assertTrue(s.awaitClosed(Duration.ofSeconds(10)), "a stranger's connection outlived the ring's forming");
        }
    }

    @Test
    void aRankInterruptedInACollectiveWhosePeerNeverCallsExitsAtOnce() throws Exception {
        List<Collective> ring = LoopbackRing.open(2, OPTIONS);
        try {
            Thread[] thread = new Thread[1];
            CompletableFuture<Void> call = new CompletableFuture<>();
            thread[0] = new Thread(() -> {
                try {
                    ring.get(0).allReduce(new float[1000], 0, 1000, Reduction.SUM);     // rank 1 never calls
                    call.complete(null);
                } catch (Throwable t) {
                    call.completeExceptionally(t);
                }
            }, "rank-0");
            thread[0].start();
            Thread.sleep(300);
            long start = System.nanoTime();
            thread[0].interrupt();
            Throwable failure = failureWithin(call, Duration.ofSeconds(5), "allReduce");
            double seconds = (System.nanoTime() - start) / 1e9;
            assertInstanceOf(CollectiveException.class, failure);
            assertTrue(failure.getMessage().contains("interrupted"), failure.getMessage());
            assertTrue(seconds < 5, "took " + seconds + " s");
            thread[0].join(5_000);
        } finally {
            ring.forEach(Collective::close);
        }
    }

    @Test
    void aRankInterruptedWhileJoiningARingWhosePeerNeverArrivesExitsAtOnce() throws Exception {
        List<RingListener> listeners = LoopbackRing.bind(2, OPTIONS);
        List<String> addresses = LoopbackRing.addresses(listeners);
        try {
            CompletableFuture<Void> joining = new CompletableFuture<>();
            // rank 1 bound its listener but never joins: rank 0's connection waits in its backlog for a hello
            Thread rank0 = new Thread(() -> {
                try (RingCollective c = RingCollective.connect(listeners.get(0), 0, addresses, LoopbackRing.SECRET, OPTIONS)) {
                    joining.complete(null);
                } catch (Throwable t) {
                    joining.completeExceptionally(t);
                }
            }, "rank-0");
            rank0.start();
            Thread.sleep(300);
            rank0.interrupt();
            Throwable failure = failureWithin(joining, Duration.ofSeconds(5), "joining the ring");
            assertInstanceOf(CollectiveException.class, failure);
            assertTrue(failure.getMessage().contains("interrupted"), failure.getMessage());
            rank0.join(5_000);
        } finally {
            listeners.forEach(RingListener::close);
        }
    }

    private static Throwable failureWithin(CompletableFuture<?> call, Duration limit, String what) throws Exception {
        try {
            call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            fail(what + " returned normally");
        } catch (java.util.concurrent.TimeoutException e) {
            fail("an interrupted rank was still in " + what + " after " + limit);
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("unreachable");
    }

    private static void allReduceWorks(RingCollective r0, RingCollective r1) throws Exception {
        CompletableFuture<float[]> other = CompletableFuture.supplyAsync(() -> {
            float[] b = {2f};
            r1.allReduce(b, 0, 1, Reduction.SUM);
            return b;
        });
        float[] mine = {1f};
        r0.allReduce(mine, 0, 1, Reduction.SUM);
        assertArrayEquals(new float[] {3f}, mine);
        assertArrayEquals(new float[] {3f}, other.get(30, TimeUnit.SECONDS));
    }

    private static <T> CompletableFuture<T> rankOnThread(IntFunction<T> rank, int r) {
        CompletableFuture<T> out = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                out.complete(rank.apply(r));
            } catch (Throwable e) {
                out.completeExceptionally(e);
            }
        }, "rank-" + r);
        t.setDaemon(true);
        t.start();
        return out;
    }

    private Stranger stranger(String address, boolean trickle) throws IOException {
        Stranger s = new Stranger(address, trickle);
        strangers.add(s);
        return s;
    }

    /**
     * A client that connects and then says nothing, or trickles one byte a second; its thread watches for the
     * listener's hello and for the end of the connection.
     */
    private static final class Stranger {
        private final Socket socket;
        private final Thread thread;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final CompletableFuture<Void> hello = new CompletableFuture<>();
        private final CompletableFuture<Void> closed = new CompletableFuture<>();

        Stranger(String address, boolean trickle) throws IOException {
            String[] hostPort = address.split(":");
            socket = new Socket(hostPort[0], Integer.parseInt(hostPort[1]));
            thread = new Thread(() -> watch(trickle), "stranger");
            thread.setDaemon(true);
            thread.start();
        }

        private void watch(boolean trickle) {
            try {
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[64];
                while (!stop.get()) {
                    if (trickle) {
                        socket.getOutputStream().write('x');
                    }
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                    while (System.nanoTime() < until && !stop.get()) {
                        socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
                        try {
                            if (in.read(buffer) < 0) {
                                closed.complete(null);
                                return;
                            }
                            hello.complete(null);
                        } catch (SocketTimeoutException quiet) {
                            // nothing from the listener this second
                        }
                    }
                }
            } catch (IOException e) {
                closed.complete(null);     // reset, or this test closed it
            }
        }

        void awaitHello(Duration limit) throws Exception {
            hello.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        }

        boolean sawHello() {
            return hello.isDone();
        }

        boolean awaitClosed(Duration limit) {
            try {
                closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
                return true;
            } catch (Exception e) {
                return false;
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing is best effort
            }
            thread.join(5_000);
        }
    }
}
