package dev.sparktune.augment;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * An Apertium APY server ({@code apertium-apy}, Debian package) started on a free loopback port over the installed
 * language pairs, and killed when closed: what {@code sparktune bench prep} translates through when it is given no
 * server, and what the tests start.
 *
 * <p>It runs up to one translation pipeline per core for each language pair ({@code -i}), a second one as soon as
 * two requests are in flight ({@code -u 2}). APY's default, one pipeline per pair, sends one request at a time
 * through it, so prep's several requests in flight kept 1.2 of 2 cores busy and ran at 0.67 x the command line's
 * rate for the same CPU per sentence; with two pipelines it matched the command line (BENCHMARKS.md).
 */
public final class ApertiumApy implements AutoCloseable {
    /** Where Debian's Apertium packages install their language pairs. */
    public static final Path PAIRS = Path.of("/usr/share/apertium");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Process process;
    private final URI url;

    private ApertiumApy(Process process, URI url) {
        this.process = process;
        this.url = url;
    }

    /** Starts the server and returns once it answers {@code /listPairs}; its output goes to {@code log}. */
    public static ApertiumApy start(Path log) throws IOException, InterruptedException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Files.createDirectories(log.toAbsolutePath().getParent());
        String pipelines = Integer.toString(Runtime.getRuntime().availableProcessors());
        Process process = new ProcessBuilder("apertium-apy", "-p", Integer.toString(port), "-i", pipelines, "-u", "2",
                PAIRS.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        ApertiumApy apy = new ApertiumApy(process, URI.create("http://127.0.0.1:" + port));
        try {
            apy.awaitListPairs(log);
            return apy;
        } catch (IOException | InterruptedException | RuntimeException e) {
            apy.close();
            throw e;
        }
    }

    public URI url() {
        return url;
    }

    private void awaitListPairs(Path log) throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest listPairs = HttpRequest.newBuilder(url.resolve("/listPairs")).timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("apertium-apy exited with " + process.exitValue() + "; see " + log);
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
        throw new IOException("apertium-apy did not answer /listPairs within " + START_TIMEOUT.toSeconds()
                + " s; see " + log);
    }

    /** Kills the server and the translation pipelines it started. */
    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }
}
