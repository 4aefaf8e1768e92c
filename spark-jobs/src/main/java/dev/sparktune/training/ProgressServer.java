package dev.sparktune.training;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's end of progress reporting: a socket on the driver's address that rank 0 connects to (executors can
 * always reach the driver) and sends a {@link ProgressUpdate} line per logged step, so step, loss, tokens/s and ETA
 * reach the driver log while the barrier stage runs, not when it ends. A connection must first send the token this
 * server drew; others are dropped. A retried stage's new rank 0 simply connects again.
 */
public final class ProgressServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressServer.class);

    private final String runName;
    private final ServerSocket server;
    private final String token;
    private final List<ProgressUpdate> received = new ArrayList<>();
    private final Thread acceptor;

    private ProgressServer(String runName, ServerSocket server, String token) {
        this.runName = runName;
        this.server = server;
        this.token = token;
        this.acceptor = new Thread(this::acceptLoop, "sparktune-progress-" + runName);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Listens on {@code host} (the driver's address as executors know it), on a free port. */
    public static ProgressServer start(String runName, String host) {
        try {
            ServerSocket server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            byte[] token = new byte[16];
            new SecureRandom().nextBytes(token);
            return new ProgressServer(runName, server, HexFormat.of().formatHex(token));
        } catch (IOException e) {
            throw new IllegalStateException("cannot open the progress socket on the driver (" + host + "): " + e, e);
        }
    }

    /** Where rank 0 sends its progress: {@code host:port} and the token to send first. */
    public ProgressReporter.Target target() {
        return new ProgressReporter.Target(server.getInetAddress().getHostAddress(), server.getLocalPort(), token);
    }

    /** Every update received so far, in arrival order. */
    public synchronized List<ProgressUpdate> received() {
        return List.copyOf(received);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
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
            socket.setSoTimeout(0);
            if (!token.equals(in.readLine())) {
                LOG.warn("run {}: dropped a progress connection from {} without the run's token", runName,
                        socket.getRemoteSocketAddress());
                return;
            }
            String line;
            while ((line = in.readLine()) != null) {
                ProgressUpdate update = ProgressUpdate.fromJson(line);
                synchronized (this) {
                    received.add(update);
                }
                LOG.info("run {}: {}", runName, update.line());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("run {}: progress connection ended: {}", runName, e.toString());
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            LOG.debug("closing the progress socket", e);
        }
    }
}
