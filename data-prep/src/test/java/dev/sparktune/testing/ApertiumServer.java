package dev.sparktune.testing;

import dev.sparktune.augment.ApertiumApy;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Apertium APY translation server (Debian packages {@code apertium-apy} and
 * {@code apertium-eng-spa}, installed by {@code .ci/run}) on a free local port, for the
 * duration of a test class. {@link #stop()} kills it, for tests of a server that dies mid-job;
 * {@link #url()} keeps naming where it was.
 */
public final class ApertiumServer implements BeforeAllCallback, AfterAllCallback {
    private ApertiumApy server;
    private URI url;

    public URI url() {
        return url;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        if (!Files.isDirectory(ApertiumApy.PAIRS.resolve("modes"))) {
            throw new IllegalStateException("no Apertium language pairs in " + ApertiumApy.PAIRS
                    + ": install the Debian packages apertium-apy and apertium-eng-spa (.ci/run does)");
        }
        Path logs = Files.createDirectories(Path.of("target").toAbsolutePath());
        Path log = Files.createTempFile(logs, "apertium-apy-", ".log");
        try {
            server = ApertiumApy.start(log);
        } catch (IOException e) {
            throw new IllegalStateException("cannot run apertium-apy (install the Debian package apertium-apy;"
                    + " .ci/run does): " + e.getMessage(), e);
        }
        url = server.url();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        stop();
    }

    /** Kills the server and its translation pipelines. */
    public void stop() {
        if (server != null) {
            server.close();
            server = null;
        }
    }
}
