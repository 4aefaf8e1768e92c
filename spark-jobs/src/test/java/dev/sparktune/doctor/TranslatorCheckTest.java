package dev.sparktune.doctor;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.ApertiumServer;
import java.net.ServerSocket;
import java.net.URI;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class TranslatorCheckTest {

    @RegisterExtension
    static final ApertiumServer apertium = new ApertiumServer();

    @Test
    void realApertiumServerListsPairsAndTranslates() {
        CheckResult result = TranslatorCheck.run(apertium.url());

        assertTrue(result.passed(), result.toString());
        assertTrue(result.detail().contains("eng|spa"), result.detail());
        // Apertium eng->spa renders "cat" as "gato"
        assertTrue(result.detail().toLowerCase().contains("gato"), result.detail());
    }

    @Test
    void closedPortFailsWithWhatToStart() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        CheckResult result = TranslatorCheck.run(URI.create("http://127.0.0.1:" + closed));

        assertFalse(result.passed());
        assertTrue(result.detail().startsWith("nothing answers at http://127.0.0.1:" + closed), result.detail());
        assertTrue(result.fix().contains("apertium-apy -p"), result.fix());
    }
}
