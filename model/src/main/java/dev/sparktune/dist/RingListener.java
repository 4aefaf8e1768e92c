package dev.sparktune.dist;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A rank's server socket, bound before the ranks exchange addresses so that the port it reports is already
 * taken (no race with other processes for it). Publish {@link #address()} to the other ranks (in Spark, through
 * {@code BarrierTaskContext.allGather}), then hand the listener to {@link RingCollective#connect}.
 */
public final class RingListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RingListener.class);
    /** Connections shaking hands at once while the ring forms; more are closed at once (the real peer retries). */
    static final int MAX_HANDSHAKES = 8;
    /** The whole handshake of an accepted connection, however slowly its bytes arrive. */
    static final long HANDSHAKE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long POLL_MILLIS = 50;

    private final ServerSocketChannel server;
    private final String address;
    private final int socketBufferBytes;

    private RingListener(ServerSocketChannel server, String address, int socketBufferBytes) {
        this.server = server;
        this.address = address;
        this.socketBufferBytes = socketBufferBytes;
    }

    /** Binds an ephemeral port on the address {@code options.networkCidr()} selects. */
    public static RingListener bind(RingOptions options) {
        InetAddress host = BindAddress.select(options.networkCidr());
        try {
            ServerSocketChannel server = ServerSocketChannel.open();
            try {
                server.bind(new InetSocketAddress(host, 0), 16);
                server.configureBlocking(false);
                InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
                return new RingListener(server, host.getHostAddress() + ":" + bound.getPort(), options.socketBufferBytes());
            } catch (IOException e) {
                server.close();
                throw e;
            }
        } catch (IOException e) {
            throw new CollectiveException("cannot listen on " + host.getHostAddress() + ": " + e.getMessage(), e);
        }
    }

    /** {@code host:port} that the other ranks connect to. */
    public String address() {
        return address;
    }

    /**
     * Waits up to {@code timeoutNanos} for {@code expectedRank} to connect and prove the job secret. Each connection
     * shakes hands on its own thread, so a silent stranger cannot hold up the real peer; connections that fail the
     * handshake are refused, logged and closed. Strangers cost little: at most {@value #MAX_HANDSHAKES} connections
     * shake hands at once (more are closed before the handshake, and the real peer dials again: see
     * {@link Handshake.Busy}), and each must finish within {@link #HANDSHAKE_NANOS} in all. A thread interrupted while
     * it waits here fails at once.
     */
    Link accept(Handshake handshake, int ownRank, int expectedRank, String peer, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        CompletableFuture<Link> accepted = new CompletableFuture<>();
        // the connections still shaking hands and their threads; each leaves both sets when its handshake ends
        Set<Link> pending = ConcurrentHashMap.newKeySet();
        Set<Thread> handshakes = ConcurrentHashMap.newKeySet();
        AtomicInteger shaking = new AtomicInteger();
        int turnedAway = 0;
        Link winner = null;                 // set only when this method returns it
        try (Selector selector = Selector.open()) {
            server.register(selector, SelectionKey.OP_ACCEPT);
            while (!accepted.isDone()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new CollectiveException("rank " + ownRank + " (" + address + "): " + peer + " did not connect and "
                            + "prove the job secret within " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s; is that rank "
                            + "running, with the same secret, and can it reach " + address + "?");
                }
                if (Thread.currentThread().isInterrupted()) {
                    throw new CollectiveException("rank " + ownRank + " (" + address + ") was interrupted while waiting for "
                            + peer + " to connect (the task was cancelled)");
                }
                selector.select(Math.max(1, Math.min(POLL_MILLIS, TimeUnit.NANOSECONDS.toMillis(left))));
                selector.selectedKeys().clear();
                if (!server.isOpen()) {
                    throw new CollectiveException("rank " + ownRank + " stopped waiting for " + peer + ": its listener was closed");
                }
                SocketChannel channel = server.accept();
                if (channel == null) {
                    continue;
                }
                String remote = String.valueOf(channel.getRemoteAddress());
                if (shaking.get() >= MAX_HANDSHAKES) {
                    channel.close();
                    if (turnedAway++ == 0) {
                        LOG.warn("rank {} ({}) closed a connection from {} at once: {} connections are shaking hands "
                                + "already (strangers on this port?); {} dials again", ownRank, address, remote,
                                MAX_HANDSHAKES, peer);
                    }
                    continue;
                }
                long handshakeNanos = Math.min(HANDSHAKE_NANOS, timeoutNanos);
                Link link;
                try {
                    link = new Link(channel, "an unauthenticated connection from " + remote, handshakeNanos,
                            System.nanoTime() + handshakeNanos, socketBufferBytes);
                } catch (IOException e) {
                    channel.close();
                    LOG.warn("rank {} ({}) dropped a connection from {}: {}", ownRank, address, remote, e.toString());
                    continue;
                }
                pending.add(link);
                shaking.incrementAndGet();
                Thread t = new Thread(() -> {
                    try {
                        handshake.accept(link, ownRank, expectedRank);
                        link.identify(peer, timeoutNanos);
                        if (!accepted.complete(link)) {
                            link.close();
                        }
                    } catch (Handshake.Refused | CollectiveException e) {
                        if (accepted.isDone()) {
                            LOG.warn("rank {} ({}) closed a connection from {} that had not proved the job secret when the "
                                    + "ring formed without it", ownRank, address, remote);
                        } else {
                            LOG.warn("rank {} ({}) refused a ring connection from {}: {}", ownRank, address, remote, e.getMessage());
                        }
                        link.close();
                    } finally {
                        pending.remove(link);
                        handshakes.remove(Thread.currentThread());
                        shaking.decrementAndGet();
                    }
                }, "sparktune-ring-handshake-" + ownRank);
                t.setDaemon(true);
                handshakes.add(t);
                t.start();
            }
            Link link = accepted.join();
            winner = link;
            return link;
        } catch (IOException e) {
            throw new CollectiveException("rank " + ownRank + " (" + address + ") failed while waiting for " + peer + ": " + e, e);
        } finally {
            // a handshake that succeeds from now on closes its own link; one that won as this method failed is closed here
            if (!accepted.cancel(false) && winner == null) {
                accepted.join().close();
            }
            for (Link link : List.copyOf(pending)) {
                if (link != winner) {
                    link.close();
                }
            }
            for (Thread t : List.copyOf(handshakes)) {
                try {
                    t.join(TimeUnit.NANOSECONDS.toMillis(HANDSHAKE_NANOS) + 1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // nothing listens any more either way
        }
    }
}
