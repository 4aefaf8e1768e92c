package dev.sparktune.dist;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A man in the middle for tests: a real TCP relay, with threads of its own, between a rank and the listener it dials.
 * It records every byte the dialling rank sends and can flip one of them (by its offset in that stream) on the way.
 */
final class TcpRelay implements AutoCloseable {
    private final ServerSocket server;
    private final String target;
    private final long flipAt;                 // offset in the dialler's stream of the byte to flip; -1: none
    private final ByteArrayOutputStream recorded = new ByteArrayOutputStream();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    /** Relays connections to {@code target} ({@code host:port}); {@code flipAt} as above. */
    TcpRelay(String target, long flipAt) throws IOException {
        this.server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        this.target = target;
        this.flipAt = flipAt;
        start(this::acceptLoop, "relay-accept");
    }

    /** {@code host:port} to dial instead of the target. */
    String address() {
        return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    }

    /** Every byte dialling ranks sent through the relay so far. */
    byte[] recorded() {
        synchronized (recorded) {
            return recorded.toByteArray();
        }
    }

    private void acceptLoop() {
        try {
            while (true) {
                Socket client = server.accept();
                sockets.add(client);
                String[] hostPort = target.split(":");
                Socket upstream = new Socket(hostPort[0], Integer.parseInt(hostPort[1]));
                sockets.add(upstream);
                start(() -> pump(client, upstream, true), "relay-to-listener");
                start(() -> pump(upstream, client, false), "relay-to-dialler");
            }
        } catch (IOException e) {
            // closed
        }
    }

    private void pump(Socket from, Socket to, boolean fromDialler) {
        byte[] buffer = new byte[64 * 1024];
        long offset = 0;
        try (from; to) {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buffer)) >= 0) {
                if (fromDialler) {
                    if (flipAt >= offset && flipAt < offset + n) {
                        buffer[(int) (flipAt - offset)] ^= 0x01;
                    }
                    synchronized (recorded) {
                        recorded.write(buffer, 0, n);
                    }
                    offset += n;
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            // one side closed; closing both ends the other pump too
        }
    }

    private void start(Runnable body, String name) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
        try {
            for (Thread t : threads) {
                t.join(10_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
