package dev.sparktune.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Apertium APY translation server (Debian packages {@code apertium-apy} and
 * {@code apertium-eng-spa}, installed by {@code .ci/run}) on a free local port, for the
 * duration of a test class. {@link #stop()} kills it, for tests of a server that dies mid-job.
 */
public final class ApertiumServer implements BeforeAllCallback, AfterAllCallback {
    private static final Path PAIRS = Path.of("/usr/share/apertium");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private Process process;
    private int port;

    public URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        if (!Files.isDirectory(PAIRS.resolve("modes"))) {
            throw new IllegalStateException("no Apertium language pairs in " + PAIRS
                    + ": install the Debian packages apertium-apy and apertium-eng-spa (.ci/run does)");
        }
        port = freePort();
        Path log = Path.of("target", "apertium-apy-" + port + ".log").toAbsolutePath();
        Files.createDirectories(log.getParent());
        try {
            process = new ProcessBuilder("apertium-apy", "-p", Integer.toString(port), PAIRS.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run apertium-apy: install the Debian package apertium-apy"
                    + " (.ci/run does)", e);
        }
        awaitListPairs(log);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    /** Kills the server and its translation pipelines. */
    public void stop() {
        if (process != null) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process = null;
        }
    }

    private void awaitListPairs(Path log) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest listPairs = HttpRequest.newBuilder(url().resolve("/listPairs")).timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("apertium-apy exited with " + process.exitValue() + "; see " + log);
            }
            try {
                if (http.send(listPairs, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notListeningYet) {
                // keep polling
            }
            Thread.sleep(200);
        }
        stop();
        throw new IllegalStateException("apertium-apy did not answer /listPairs within " + START_TIMEOUT.toSeconds()
                + " s; see " + log);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
