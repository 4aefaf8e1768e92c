package dev.sparktune.training;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.apache.spark.SparkConf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's end of progress reporting: a socket that rank 0 connects to (executors can always reach the
 * driver) and sends a {@link ProgressUpdate} line per logged step, so step, loss, tokens/s and ETA reach the driver
 * log while the barrier stage runs, not when it ends. A connection must first send the token this server drew;
 * others are dropped. A retried stage's new rank 0 simply connects again. Progress is best effort: when the socket
 * cannot be opened the job runs without it.
 */
public final class ProgressServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressServer.class);
    private static final int TOKEN_TIMEOUT_MILLIS = 10_000;

    private final String runName;
    private final ServerSocket server;      // null when progress is off
    private final String advertisedHost;
    private final String token;
    private final List<ProgressUpdate> received = new ArrayList<>();
    private final Set<Socket> open = new HashSet<>();
    private int accepted;

    private ProgressServer(String runName, ServerSocket server, String advertisedHost, String token) {
        this.runName = runName;
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
        String host = conf.get("spark.driver.host", "localhost");
        String bind = conf.get("spark.driver.bindAddress", host);
        byte[] token = new byte[16];
        new SecureRandom().nextBytes(token);
        try {
            ServerSocket server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getByName(bind), 0));
            return new ProgressServer(runName, server, host, HexFormat.of().formatHex(token));
        } catch (IOException e) {
            LOG.warn("run {}: cannot open the progress socket on {} ({}); training runs without progress on the driver,"
                    + " metrics.jsonl still has every logged step", runName, bind, e.toString());
            return new ProgressServer(runName, null, host, null);
        }
    }

    /** Where rank 0 sends its progress, or null when progress is off. */
    public ProgressReporter.Target target() {
        return server == null ? null : new ProgressReporter.Target(advertisedHost, server.getLocalPort(), token);
    }

    /** Every update received so far, in arrival order. */
    public synchronized List<ProgressUpdate> received() {
        return List.copyOf(received);
    }

    /** Connections accepted so far, whether or not they proved the token. */
    synchronized int accepted() {
        return accepted;
    }

    /**
     * Every update received, once the connections accepted so far have ended or {@code wait} has passed: lines still
     * in flight when the stage finishes are then counted too. (Rank 0 connects at its first logged step, long
     * before the stage ends.)
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
            try {
                Socket socket = server.accept();
                synchronized (this) {
                    open.add(socket);
                    accepted++;
                }
                Thread reader = new Thread(() -> read(socket), "sparktune-progress-reader");
                reader.setDaemon(true);
                reader.start();
            } catch (IOException e) {
                if (!server.isClosed()) {
                    LOG.warn("run {}: progress socket failed: {}", runName, e.toString());
                }
            }
        }
    }

    private void read(Socket socket) {
        try (socket; BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                StandardCharsets.UTF_8))) {
            socket.setSoTimeout(TOKEN_TIMEOUT_MILLIS);
            if (!token.equals(in.readLine())) {
                LOG.warn("run {}: dropped a progress connection from {} without the run's token", runName,
                        socket.getRemoteSocketAddress());
                return;
            }
            socket.setSoTimeout(0);     // steps may be minutes apart
            String line;
            while ((line = in.readLine()) != null) {
                ProgressUpdate update = ProgressUpdate.fromJson(line);
                synchronized (this) {
                    received.add(update);
                }
                LOG.info("run {}: {}", runName, update.line());
            }
        } catch (SocketTimeoutException e) {
            LOG.warn("run {}: dropped a progress connection that sent no token within {} ms", runName,
                    TOKEN_TIMEOUT_MILLIS);
        } catch (IOException | RuntimeException e) {
            LOG.warn("run {}: progress connection ended: {}", runName, e.toString());
        } finally {
            synchronized (this) {
                open.remove(socket);
                notifyAll();
            }
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
