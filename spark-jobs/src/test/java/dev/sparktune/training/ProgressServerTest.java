package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sparktune.train.StepListener;
import dev.sparktune.train.StepMetrics;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The driver's progress socket against stray clients, over real loopback sockets: each finding of issue 19 about it
 * (no connection cap, readLine before the token without a length or time limit, an unbounded list of updates) has a
 * test here, and rank 0's reporter still gets its progress through while strangers hold connections.
 */
class ProgressServerTest {
    private ProgressServer server;
    private ProgressReporter.Target target;
    private final List<Socket> strangers = new ArrayList<>();
    private final List<Thread> tricklers = new ArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();

    @BeforeEach
    void start() {
        server = ProgressServer.start("test", new SparkConf(false).set("spark.driver.host", "127.0.0.1"));
        target = server.target();
    }

    @AfterEach
    void stop() throws Exception {
        stop.set(true);
        for (Thread t : tricklers) {
            t.join(5_000);
        }
        for (Socket s : strangers) {
            s.close();
        }
        server.close();
    }

    @Test
    void aClientTricklingItsTokenLineIsDroppedAfterTheDeadlineNotHeld() throws Exception {
        // one byte a second never trips a per-read timeout; only a deadline on the whole line ends it
        Socket loris = trickle(1000);
        long start = System.nanoTime();
        assertClosedByServer(loris, ProgressServer.TOKEN_DEADLINE.plusSeconds(5));
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds >= ProgressServer.TOKEN_DEADLINE.toSeconds() - 1.5, "dropped after " + seconds + " s");
    }

    @Test
    void bytesWithoutANewlineAreNotBufferedBeforeTheToken() throws Exception {
        Socket flood = connect();
        // far more than a token line: the server stops after the token's length instead of buffering it all
        assertTrue(streamUntilCutOff(flood, 64 << 20, Duration.ofSeconds(4)),
                "the server kept reading a line without a newline before the token");
    }

    @Test
    void anAuthenticatedLineLongerThanTheCapEndsTheConnection() throws Exception {
        Socket rank0 = connect();
        rank0.getOutputStream().write((target.token() + "\n").getBytes(StandardCharsets.US_ASCII));
        assertTrue(streamUntilCutOff(rank0, 64 << 20, Duration.ofSeconds(4)),
                "the server kept reading a line past " + ProgressServer.MAX_LINE_BYTES + " bytes");
    }

    @Test
    void connectionsBeyondTheCapAreClosedAtOnce() throws Exception {
        for (int i = 0; i < ProgressServer.MAX_CONNECTIONS; i++) {
            connect();                      // silent: each holds a slot until the token deadline
        }
        awaitTrue(() -> server.accepted() == ProgressServer.MAX_CONNECTIONS, "the server accepted the silent ones");
        List<Socket> extra = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            extra.add(connect());
        }
        for (Socket s : extra) {
            assertClosedByServer(s, Duration.ofSeconds(2));
        }
        assertEquals(4, server.turnedAway());
    }

    @Test
    void theTokenMustMatchWhole() throws Exception {
        String token = target.token();
        for (String wrong : List.of(token.substring(0, token.length() - 1), token + "0", "", token.toUpperCase())) {
            if (wrong.equals(token)) {
                continue;
            }
            try (Socket s = connect(); OutputStream out = s.getOutputStream()) {
                out.write((wrong + "\n" + update(1).toJson() + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                assertClosedByServer(s, Duration.ofSeconds(3));
            }
        }
        assertEquals(List.of(), server.awaitLastUpdates(Duration.ofSeconds(5)));
    }

    @Test
    void onlyTheLatestUpdatesAreKept() throws Exception {
        int keep = 100;
        int sent = keep + 25;
        try (ProgressServer small = ProgressServer.start("test", new SparkConf(false).set("spark.driver.host", "127.0.0.1"),
                keep)) {
            ProgressReporter.Target to = small.target();
            try (Socket rank0 = new Socket(to.host(), to.port()); OutputStream out = rank0.getOutputStream()) {
                StringBuilder lines = new StringBuilder(to.token()).append('\n');
                for (int step = 1; step <= sent; step++) {
                    lines.append(update(step).toJson()).append('\n');
                }
                out.write(lines.toString().getBytes(StandardCharsets.UTF_8));
            }
            awaitTrue(() -> small.accepted() == 1, "the server accepted rank 0");
            List<ProgressUpdate> kept = small.awaitLastUpdates(Duration.ofSeconds(20));
            assertEquals(keep, kept.size());
            assertEquals(26, kept.get(0).step());
            assertEquals(sent, kept.get(kept.size() - 1).step());
        }
    }

    /**
     * Chaos: slow-loris clients hold every connection the server serves; rank 0's first connection is turned away,
     * it connects again after {@link ProgressReporter#RECONNECT_PAUSE} once the strangers were dropped, and its
     * later steps reach the driver.
     */
    @Test
    void rank0GetsThroughWhileSlowLorisClientsHoldEveryConnection() throws Exception {
        for (int i = 0; i < ProgressServer.MAX_CONNECTIONS; i++) {
            trickle(1000);
        }
        awaitTrue(() -> server.accepted() == ProgressServer.MAX_CONNECTIONS, "the strangers hold every connection");
        int steps = 40;
        try (ProgressReporter reporter = new ProgressReporter(target, 1)) {
            for (int step = 1; step <= steps; step++) {
                reporter.afterStep(new StepListener.StepProgress(0, steps, new StepMetrics(step, 1.0 / step, Map.of(),
                        1e-3, 0.1, 100, step), Optional.empty()));
                Thread.sleep(350);          // 14 s of training: the strangers go after 5 s, rank 0 comes back after 5 more
            }
        }
        List<ProgressUpdate> received = server.awaitLastUpdates(Duration.ofSeconds(10));
        assertTrue(server.turnedAway() >= 1, "rank 0's first connection found the server full");
        assertTrue(!received.isEmpty() && received.get(received.size() - 1).step() == steps,
                "the last step reached the driver: " + received.stream().map(ProgressUpdate::step).toList());
    }

    private static ProgressUpdate update(long step) {
        return new ProgressUpdate(step, 1_000_000, 1.0, 1e-3, 10, Optional.empty(), Map.of(), Map.of());
    }

    private Socket connect() throws IOException {
        Socket s = new Socket(target.host(), target.port());
        strangers.add(s);
        return s;
    }

    /** A client sending one byte of a plausible token line every {@code millis}, on its own thread. */
    private Socket trickle(long millis) throws IOException {
        Socket s = connect();
        Thread t = new Thread(() -> {
            try {
                OutputStream out = s.getOutputStream();
                while (!stop.get()) {
                    out.write('a');
                    out.flush();
                    Thread.sleep(millis);
                }
            } catch (IOException | InterruptedException closed) {
                // the server cut it off, or the test ended
            }
        }, "slow-loris");
        t.setDaemon(true);
        t.start();
        tricklers.add(t);
        return s;
    }

    /** Streams bytes without a newline; true when the server cut the connection within {@code limit}. */
    private static boolean streamUntilCutOff(Socket s, int maxBytes, Duration limit) {
        byte[] chunk = new byte[64 * 1024];
        Arrays.fill(chunk, (byte) 'x');
        long deadline = System.nanoTime() + limit.toNanos();
        try {
            OutputStream out = s.getOutputStream();
            for (int sent = 0; sent < maxBytes && System.nanoTime() < deadline; sent += chunk.length) {
                out.write(chunk);
            }
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private static void assertClosedByServer(Socket s, Duration limit) throws IOException {
        s.setSoTimeout((int) limit.toMillis());
        InputStream in = s.getInputStream();
        try {
            if (in.read() != -1) {
                fail("the server sent something");
            }
        } catch (SocketTimeoutException e) {
            fail("the server still held the connection after " + limit);
        } catch (IOException reset) {
            // closed with unread bytes: a reset, closed all the same
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }
}
