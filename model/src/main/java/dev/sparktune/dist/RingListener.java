package dev.sparktune.dist;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A rank's server socket, bound before the ranks exchange addresses so that the port it reports is already
 * taken (no race with other processes for it). Publish {@link #address()} to the other ranks (in Spark, through
 * {@code BarrierTaskContext.allGather}), then hand the listener to {@link RingCollective#connect}.
 */
public final class RingListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RingListener.class);
    private static final long HANDSHAKE_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long POLL_MILLIS = 50;

    private final ServerSocketChannel server;
    private final String address;

    private RingListener(ServerSocketChannel server, String address) {
        this.server = server;
        this.address = address;
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
                return new RingListener(server, host.getHostAddress() + ":" + bound.getPort());
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
     * handshake are refused, logged and closed.
     */
    Link accept(Handshake handshake, int ownRank, int expectedRank, String peer, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        CompletableFuture<Link> accepted = new CompletableFuture<>();
        List<Link> pending = new ArrayList<>();
        List<Thread> handshakes = new ArrayList<>();
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
                Link link = new Link(channel, "an unauthenticated connection from " + remote, Math.min(HANDSHAKE_NANOS, timeoutNanos));
                pending.add(link);
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
            accepted.cancel(false);         // a handshake that succeeds from now on closes its own link
            for (Link link : pending) {
                if (link != winner) {
                    link.close();
                }
            }
            for (Thread t : handshakes) {
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
