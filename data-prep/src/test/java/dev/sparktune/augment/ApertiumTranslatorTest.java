package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.ApertiumServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Apertium client against a real APY server with the eng-spa pair. */
@Tag("integration")
class ApertiumTranslatorTest {
    @RegisterExtension
    static final ApertiumServer apy = new ApertiumServer();

    private ApertiumTranslator translator() {
        return new ApertiumTranslator(apy.url(), new RetryingHttp(1, Duration.ofMillis(50), Duration.ofSeconds(30)));
    }

    @Test
    void aBatchComesBackAlignedWithItsTexts() throws Exception {
        List<String> out = translator().translate("eng", "spa",
                List.of("The car is red.", "I like cats.", "Dogs are loyal.", "Call <EMAIL> now & then, 3 < 4."));
        assertEquals(4, out.size());
        assertTrue(out.get(0).contains("coche"), out.get(0));
        assertTrue(out.get(1).contains("gatos"), out.get(1));
        assertTrue(out.get(2).contains("perros"), out.get(2));
        assertTrue(out.get(3).contains("<EMAIL>") && out.get(3).contains("3 < 4"), out.get(3));
    }

    @Test
    void aTextHoldingTheSeparatorIsTranslatedOnItsOwn() throws Exception {
        List<String> out = translator().translate("eng", "spa", List.of("The car<hr>is red.", "I like cats."));
        assertEquals(2, out.size());
        assertTrue(out.get(1).contains("gatos"), out.get(1));
    }

    @Test
    void anUninstalledPairIsAnErrorNotAnOutage() {
        TranslationException e = assertThrows(TranslationException.class,
                () -> translator().translate("eng", "fra", List.of("The car is red.")));
        assertFalse(e.unavailable());
        assertTrue(e.getMessage().contains("HTTP 400"), e.getMessage());
    }
}
