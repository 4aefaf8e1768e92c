package dev.sparktune.training;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkConf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's end of progress reporting: a socket that rank 0 connects to (executors can always reach the
 * driver) and sends a {@link ProgressUpdate} line per logged step, so step, loss, tokens/s and ETA reach the driver
 * log while the barrier stage runs, not when it ends. A connection must first send the token this server drew;
 * others are dropped. A retried stage's new rank 0 simply connects again. Progress is best effort: when the socket
 * cannot be opened the job runs without it.
 *
 * <p>Stray clients (a port scanner, a stuck rank of an old attempt, someone streaming bytes) cost the driver
 * little: at most {@value #MAX_CONNECTIONS} connections are served at once (more are closed at once), the token
 * line must arrive whole within {@link #TOKEN_DEADLINE} whatever the pace of its bytes, no line is read past
 * {@value #MAX_LINE_BYTES} bytes, the token is compared in constant time, and only the latest
 * {@value #MAX_KEPT_UPDATES} updates are kept.
 */
public final class ProgressServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressServer.class);
    static final int MAX_CONNECTIONS = 8;
    static final Duration TOKEN_DEADLINE = Duration.ofSeconds(5);
    static final int MAX_LINE_BYTES = 64 * 1024;
    static final int MAX_KEPT_UPDATES = 10_000;

    private final String runName;
    private final ServerSocket server;      // null when progress is off
    private final String advertisedHost;
    private final String token;
    private final int keep;
    private final Deque<ProgressUpdate> received = new ArrayDeque<>();
    private final Set<Socket> open = new HashSet<>();
    private int accepted;
    private int turnedAway;

    private ProgressServer(String runName, ServerSocket server, String advertisedHost, String token, int keep) {
        this.runName = runName;
        this.keep = keep;
        this.server = server;
        this.advertisedHost = advertisedHost;
        this.token = token;
        if (server != null) {
            Thread acceptor = new Thread(this::acceptLoop, "sparktune-progress-" + runName);
            acceptor.setDaemon(true);
            acceptor.start();
        }
    }

    /**
     * Listens on the driver's bind address ({@code spark.driver.bindAddress}, else {@code spark.driver.host}) and
     * tells ranks to connect to {@code spark.driver.host}, as Spark's own driver endpoints do.
     */
    public static ProgressServer start(String runName, SparkConf conf) {
        return start(runName, conf, MAX_KEPT_UPDATES);
    }

    /** As {@link #start(String, SparkConf)}, keeping the latest {@code keep} updates (tests). */
    static ProgressServer start(String runName, SparkConf conf, int keep) {
        String host = conf.get("spark.driver.host", "localhost");
        String bind = conf.get("spark.driver.bindAddress", host);
        byte[] token = new byte[16];
        new SecureRandom().nextBytes(token);
        try {
            ServerSocket server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getByName(bind), 0));
            return new ProgressServer(runName, server, host, HexFormat.of().formatHex(token), keep);
        } catch (IOException e) {
            LOG.warn("run {}: cannot open the progress socket on {} ({}); training runs without progress on the driver,"
                    + " metrics.jsonl still has every logged step", runName, bind, e.toString());
            return new ProgressServer(runName, null, host, null, keep);
        }
    }

    /** Where rank 0 sends its progress, or null when progress is off. */
    public ProgressReporter.Target target() {
        return server == null ? null : new ProgressReporter.Target(advertisedHost, server.getLocalPort(), token);
    }

    /** The updates received so far, in arrival order: all of them, or the latest {@value #MAX_KEPT_UPDATES}. */
    public synchronized List<ProgressUpdate> received() {
        return List.copyOf(received);
    }

    /** Connections accepted so far, whether or not they proved the token. */
    synchronized int accepted() {
        return accepted;
    }

    /** Connections closed at once because {@value #MAX_CONNECTIONS} were being served already. */
    synchronized int turnedAway() {
        return turnedAway;
    }

    /**
     * The updates received (as {@link #received()}), once the connections accepted so far have ended or
     * {@code wait} has passed: lines still in flight when the stage finishes are then counted too. (Rank 0 connects
     * at its first logged step, long before the stage ends; a stranger's connection ends within
     * {@link #TOKEN_DEADLINE}.)
     */
    public synchronized List<ProgressUpdate> awaitLastUpdates(Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            while (!open.isEmpty() && System.nanoTime() < deadline) {
                wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return received();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!server.isClosed()) {
                    LOG.warn("run {}: progress socket failed: {}", runName, e.toString());
                }
                continue;
            }
            boolean full;
            int refused = 0;
            synchronized (this) {
                accepted++;
                full = open.size() >= MAX_CONNECTIONS;
                if (full) {
                    refused = ++turnedAway;
                } else {
                    open.add(socket);
                }
            }
            if (full) {
                closeQuietly(socket);
                if (refused == 1 || refused % 1000 == 0) {
                    LOG.warn("run {}: closed a progress connection from {} at once: {} connections are open already "
                            + "({} turned away so far)", runName, socket.getRemoteSocketAddress(), MAX_CONNECTIONS,
                            refused);
                }
                continue;
            }
            Thread reader = new Thread(() -> read(socket), "sparktune-progress-reader");
            reader.setDaemon(true);
            reader.start();
        }
    }

    private void read(Socket socket) {
        try (socket; InputStream in = new BufferedInputStream(socket.getInputStream())) {
            long tokenDeadline = System.nanoTime() + TOKEN_DEADLINE.toNanos();
            byte[] expected = token.getBytes(StandardCharsets.US_ASCII);
            byte[] first = readLine(socket, in, expected.length + 2, tokenDeadline);
            if (first == null || !MessageDigest.isEqual(expected, first)) {
                LOG.warn("run {}: dropped a progress connection from {} without the run's token", runName,
                        socket.getRemoteSocketAddress());
                return;
            }
            byte[] line;
            while ((line = readLine(socket, in, MAX_LINE_BYTES, 0)) != null) {     // steps may be minutes apart
                ProgressUpdate update = ProgressUpdate.fromJson(new String(line, StandardCharsets.UTF_8));
                synchronized (this) {
                    if (received.size() == keep) {
                        received.removeFirst();
                    }
                    received.addLast(update);
                }
                LOG.info("run {}: {}", runName, update.line());
            }
        } catch (SocketTimeoutException e) {
            LOG.warn("run {}: dropped a progress connection from {} that sent no whole token line within {} s",
                    runName, socket.getRemoteSocketAddress(), TOKEN_DEADLINE.toSeconds());
        } catch (IOException | RuntimeException e) {
            LOG.warn("run {}: progress connection ended: {}", runName, e.toString());
        } finally {
            synchronized (this) {
                open.remove(socket);
                notifyAll();
            }
        }
    }

    /**
     * The next line's bytes without its {@code \n} (and a {@code \r} before it), or null at the end of the stream.
     * A line of more than {@code maxBytes} bytes before its newline is an error, found without reading further.
     * With a {@code deadline} ({@link System#nanoTime()}, 0 for none) the whole line must have arrived by then,
     * however slowly its bytes trickle in: each read waits only for the time left.
     */
    static byte[] readLine(Socket socket, InputStream in, int maxBytes, long deadline) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            if (deadline != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new SocketTimeoutException("the line did not arrive in time");
                }
                socket.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            } else {
                socket.setSoTimeout(0);
            }
            int b = in.read();
            if (b < 0) {
                return line.size() == 0 ? null : trimCr(line.toByteArray());
            }
            if (b == '\n') {
                return trimCr(line.toByteArray());
            }
            if (line.size() == maxBytes) {
                throw new IOException("a line longer than " + maxBytes + " bytes");
            }
            line.write(b);
        }
    }

    private static byte[] trimCr(byte[] line) {
        return line.length > 0 && line[line.length - 1] == '\r' ? Arrays.copyOf(line, line.length - 1) : line;
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // it is going away either way
        }
    }

    @Override
    public void close() {
        if (server == null) {
            return;
        }
        try {
            server.close();
            synchronized (this) {
                for (Socket socket : open) {
                    socket.close();
                }
            }
        } catch (IOException e) {
            LOG.debug("closing the progress sockets", e);
        }
    }
}
