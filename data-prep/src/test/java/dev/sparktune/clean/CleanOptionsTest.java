package dev.sparktune.clean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.dedup.DedupOptions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CleanOptionsTest {

    @Test
    void badValuesNameTheOptionAndWhatToUse() {
        assertMessage(() -> CleanOptions.defaults().withLengths(-1, 0), "min_chars");
        assertMessage(() -> CleanOptions.defaults().withLengths(50, 10), "max_chars");
        assertMessage(() -> CleanOptions.defaults().withPiiMasks(Map.of(PiiKind.PHONE, "")), "<PHONE>");
        assertMessage(() -> PiiKind.parse("iban"), "email, phone, card, id");
        assertMessage(() -> new DedupOptions(true, true, 1.5, 128, 5, 30), "threshold");
        assertMessage(() -> new DedupOptions(true, true, 0.8, 1, 5, 30), "num_perm");
        assertMessage(() -> new DedupOptions(true, true, 0.8, 128, 0, 30), "shingle_size");
    }

    @Test
    void piiKindsParseCaseInsensitively() {
        assertEquals(PiiKind.EMAIL, PiiKind.parse(" Email "));
        assertEquals(List.of("en", "zh"), CleanOptions.defaults().withLanguages(List.of("en", "zh"), List.of()).languages());
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(part), x.getMessage());
    }
}
