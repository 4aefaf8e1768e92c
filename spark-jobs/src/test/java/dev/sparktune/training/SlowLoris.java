package dev.sparktune.training;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A slow-loris client: it connects, then sends one byte every {@link #PACE} (never a newline, never a whole
 * handshake: at most {@value #MAX_BYTES} bytes, then silence) and keeps the connection until the server closes it.
 * It notes whether the server said anything first (the ring listener's hello: the connection got a handshake of its
 * own) and when the server closed it.
 */
final class SlowLoris implements AutoCloseable {
    static final Duration PACE = Duration.ofMillis(300);
    static final int MAX_BYTES = 20;

    private final Socket socket;
    private final Thread thread;
    private final CompletableFuture<Void> heard = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile boolean stopping;

    /** Connects to {@code host:port} (the TCP handshake done, so queued at the listener) and starts trickling. */
    SlowLoris(String host, int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 10_000);
        thread = new Thread(this::trickle, "slow-loris-" + port);
        thread.setDaemon(true);
        thread.start();
    }

    /** {@code host:port}, as ring addresses are published. */
    static SlowLoris at(String address) throws IOException {
        int colon = address.lastIndexOf(':');
        return new SlowLoris(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
    }

    private void trickle() {
        try {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            byte[] buffer = new byte[256];
            for (int sent = 0; !stopping; sent++) {
                if (sent < MAX_BYTES) {
                    out.write('7');
                    out.flush();
                }
                long until = System.nanoTime() + PACE.toNanos();
                while (System.nanoTime() < until) {
                    socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())));
                    try {
                        if (in.read(buffer) < 0) {
                            closed.complete(null);
                            return;
                        }
                        heard.complete(null);
                    } catch (SocketTimeoutException quiet) {
                        // nothing from the server during this pause
                    }
                }
            }
        } catch (IOException e) {
            closed.complete(null);          // reset by the server, or closed here
        }
    }

    /** Whether the server sent anything before it closed the connection. */
    boolean heardFromServer() {
        return heard.isDone();
    }

    boolean isClosed() {
        return closed.isDone();
    }

    /** Waits up to {@code limit} for the server to close the connection; false when it still holds it. */
    boolean awaitClosed(Duration limit) {
        try {
            closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing is best effort
        }
        thread.join(5_000);
    }
}
