package dev.sparktune.dist;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import javax.crypto.AEADBadTagException;

/**
 * One TCP connection to a ring neighbour, non-blocking underneath so that every read and write waits at most
 * the timeout for progress. Failures become {@link CollectiveException}s that name the peer. A thread interrupted
 * while it waits (Spark cancelling the task) fails at once instead of waiting out the timeout. Until the peer is
 * identified, a connection may also carry a deadline for the whole handshake, so that a stranger trickling a byte
 * at a time cannot hold it for long. After a handshake with {@code dist.ring_encryption: aes-gcm}, every write is
 * sealed into frames ({@link FrameCipher}) and every read opens them, so callers read and write plain bytes either way.
 */
final class Link implements AutoCloseable {
    private final SocketChannel channel;
    private final int socketBufferBytes;    // 0: the kernel's own sizing
    private final Selector selector;
    private volatile String peer;
    private volatile long timeoutNanos;
    private volatile long deadline;         // System.nanoTime() by which the handshake must be done; 0: none
    private volatile boolean closed;
    private volatile boolean identified;
    // set by the handshake before any data flows, then used by one writing and one reading thread; null: plain TCP
    private FrameCipher sealer;
    private FrameCipher opener;
    private ByteBuffer sealedOut;
    private ByteBuffer sealedIn;
    private ByteBuffer opened;              // the plaintext of the last frame opened that readers have not taken yet
    private final ByteBuffer frameHeader = ByteBuffer.allocate(FrameCipher.HEADER_BYTES);

    /**
     * An accepted connection, not yet identified: every wait lasts at most {@code timeoutNanos}, and the handshake
     * must be done by {@code deadline} ({@link System#nanoTime()}). Its socket buffers of {@code socketBufferBytes}
     * (0: the kernel's sizing) come with {@link #identify}.
     */
    Link(SocketChannel channel, String peer, long timeoutNanos, long deadline, int socketBufferBytes) throws IOException {
        this.channel = channel;
        this.socketBufferBytes = socketBufferBytes;
        this.peer = peer;
        this.timeoutNanos = timeoutNanos;
        this.deadline = deadline;
        channel.configureBlocking(false);
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        this.selector = Selector.open();
    }

    /** Names the peer once the handshake has said who it is, and sets the timeout for the job's data. */
    void identify(String name, long timeout) {
        this.peer = name;
        this.timeoutNanos = timeout;
        this.deadline = 0;
        this.identified = true;
        try {
            sizeBuffers();
        } catch (IOException e) {
            throw new CollectiveException("cannot size the socket buffers of the connection to " + name + ": " + e.getMessage(), e);
        }
    }

    private void sizeBuffers() throws IOException {
        if (socketBufferBytes > 0) {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, socketBufferBytes);
            channel.setOption(StandardSocketOptions.SO_RCVBUF, socketBufferBytes);
        }
    }

    /**
     * Opens a connection to {@code address}, waiting at most {@code timeoutNanos} for the peer to answer, with socket
     * buffers of {@code socketBufferBytes} (0: the kernel's sizing).
     */
    static Link dial(InetSocketAddress address, String peer, long timeoutNanos, int socketBufferBytes) {
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open();
            channel.configureBlocking(false);
            Link link = new Link(channel, peer, timeoutNanos, 0, socketBufferBytes);
            link.identified = true;
            try {
                link.sizeBuffers();
                if (!channel.connect(address)) {
                    link.finishConnect();
                }
                return link;
            } catch (IOException | RuntimeException e) {
                link.close();
                throw e;
            }
        } catch (CollectiveException e) {
            throw e;
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
            throw new CollectiveException("cannot connect to " + peer + ": " + e.getMessage()
                    + " (is that rank running and reachable, or did it die?)", e);
        }
    }

    private void finishConnect() throws IOException {
        SelectionKey key = channel.register(selector, SelectionKey.OP_CONNECT);
        long start = System.nanoTime();
        while (!channel.finishConnect()) {
            long left = timeoutNanos - (System.nanoTime() - start);
            if (left <= 0) {
                throw new CollectiveException("cannot connect to " + peer + ": no answer within "
                        + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s");
            }
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted("connecting to", "");
            }
            selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            selector.selectedKeys().clear();
        }
        key.interestOps(0);
    }

    /** From now on, seals what is written with {@code sendKey} and opens what is read with {@code receiveKey}. */
    void seal(byte[] sendKey, byte[] receiveKey) {
        sealer = FrameCipher.sealing(sendKey);
        opener = FrameCipher.opening(receiveKey);
        sealedOut = FrameCipher.frameBuffer();
        sealedIn = FrameCipher.frameBuffer();
        opened = ByteBuffer.allocate(FrameCipher.MAX_PLAINTEXT).limit(0);
    }

    /** "rank 2 (10.0.0.5:40123)". */
    String peer() {
        return peer;
    }

    /** Writes all of {@code buffer}; fails if the peer takes nothing for a whole timeout. */
    void writeFully(ByteBuffer buffer, String during) {
        writeFully(buffer, during, timeoutNanos);
    }

    /** As {@link #writeFully(ByteBuffer, String)}, waiting up to {@code timeout} nanoseconds for progress. */
    void writeFully(ByteBuffer buffer, String during, long timeout) {
        if (sealer == null) {
            send(buffer, during, timeout);
            return;
        }
        while (buffer.hasRemaining()) {
            send(sealer.seal(buffer, sealedOut), during, timeout);
        }
    }

    private void send(ByteBuffer buffer, String during, long timeout) {
        try {
            while (buffer.hasRemaining()) {
                if (channel.write(buffer) == 0) {
                    awaitReady(SelectionKey.OP_WRITE, "sending to", during, timeout);
                }
            }
        } catch (IOException | ClosedSelectorException | CancelledKeyException e) {
            throw broken("sending to", during, e);
        }
    }

    /** Fills {@code buffer}; fails if the peer sends nothing for a whole timeout or closes the connection. */
    void readFully(ByteBuffer buffer, String during) {
        readFully(buffer, during, timeoutNanos);
    }

    /** As {@link #readFully(ByteBuffer, String)}, waiting up to {@code timeout} nanoseconds for progress. */
    void readFully(ByteBuffer buffer, String during, long timeout) {
        if (opener == null) {
            receive(buffer, during, timeout);
            return;
        }
        while (buffer.hasRemaining()) {
            if (opened.hasRemaining()) {
                int n = Math.min(opened.remaining(), buffer.remaining());
                buffer.put(opened.slice(opened.position(), n));
                opened.position(opened.position() + n);
            } else {
                openFrame(buffer, during, timeout);
            }
        }
    }

    /** Reads and opens the next frame: into {@code buffer} when it all fits there (no copy), else into {@link #opened}. */
    private void openFrame(ByteBuffer buffer, String during, long timeout) {
        receive(frameHeader.clear(), during, timeout);
        int sealedBytes = frameHeader.getInt(0);
        if (sealedBytes < FrameCipher.TAG_BYTES || sealedBytes > FrameCipher.MAX_PLAINTEXT + FrameCipher.TAG_BYTES) {
            throw tampered(during, "its header announces " + sealedBytes + " bytes, which no sealed frame has", null);
        }
        receive(sealedIn.clear().limit(sealedBytes), during, timeout);
        sealedIn.flip();
        int plainBytes = sealedBytes - FrameCipher.TAG_BYTES;
        ByteBuffer target = plainBytes <= buffer.remaining() ? buffer : opened.clear();
        try {
            opener.open(sealedIn, target);
        } catch (AEADBadTagException e) {
            throw tampered(during, "it does not open with this connection's key as the next frame", e);
        }
        if (target == opened) {
            opened.flip();
        }
    }

    private FrameAuthenticationException tampered(String during, String why, Exception cause) {
        return new FrameAuthenticationException("a sealed frame from " + peer + " failed authentication " + during + ": "
                + why + " (dist.ring_encryption: aes-gcm). It was altered, replayed, reordered or cut on the way, or "
                + "sent by someone other than the rank that shook hands: the collective stops", cause);
    }

    private void receive(ByteBuffer buffer, String during, long timeout) {
        try {
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer);
                if (n < 0) {
                    throw new EOFException("the connection was closed");
                }
                if (n == 0) {
                    awaitReady(SelectionKey.OP_READ, "receiving from", during, timeout);
                }
            }
        } catch (IOException | ClosedSelectorException | CancelledKeyException e) {
            throw broken("receiving from", during, e);
        }
    }

    private void awaitReady(int operation, String direction, String during, long timeout) throws IOException {
        SelectionKey key = channel.register(selector, operation);
        try {
            long start = System.nanoTime();
            while (!closed) {
                long now = System.nanoTime();
                long left = timeout - (now - start);
                if (left <= 0) {
                    // a call with its own, longer timeout (a barrier around a checkpoint save) names its key itself
                    throw new CollectiveException("timed out " + direction + " " + peer + " " + during + ": no progress for "
                            + TimeUnit.NANOSECONDS.toSeconds(timeout) + " s" + (identified && timeout == timeoutNanos
                            ? " (dist.collective_timeout_seconds); that rank is stuck or its host is unreachable" : ""));
                }
                long end = deadline;
                if (end != 0) {
                    if (end - now <= 0) {
                        throw new CollectiveException("gave up " + direction + " " + peer + " " + during
                                + ": the handshake was not done in time");
                    }
                    left = Math.min(left, end - now);
                }
                // select() returns at once for an interrupted thread, again and again: the interrupt ends the wait
                if (Thread.currentThread().isInterrupted()) {
                    throw interrupted(direction, during);
                }
                if (selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left))) > 0) {
                    selector.selectedKeys().clear();
                    return;
                }
            }
            throw new IOException("this rank's collective was closed");
        } finally {
            if (key.isValid()) {
                key.interestOps(0);
            }
        }
    }

    /** The thread keeps its interrupt status, so that whoever cancelled it sees it. */
    private CollectiveException interrupted(String direction, String during) {
        return new CollectiveException("interrupted while " + direction + " " + peer + (during.isEmpty() ? "" : " " + during)
                + " (the task was cancelled)");
    }

    private CollectiveException broken(String direction, String during, Exception cause) {
        if (closed) {
            return new CollectiveException("stopped " + direction + " " + peer + " " + during
                    + ": this rank's collective was closed after a failure or by close()", cause);
        }
        return new CollectiveException("lost " + peer + " while " + direction + " it " + during + ": " + cause.getMessage()
                + " (the peer died, closed its collective after a failure of its own, or the network broke)", cause);
    }

    /** Closes the connection and wakes a thread waiting on it; safe from any thread, any number of times. */
    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is best effort; the peer sees the connection end either way
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // as above
        }
    }
}
