package dev.sparktune.clean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.pemistahl.lingua.api.Language;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LanguageIdentifierTest {
    private static final Set<Language> FOUR = LanguageIdentifier.languages(List.of("en", "de", "fr", "zh"), "test");

    @Test
    void identifiesRealSentencesAmongTheConfiguredLanguages() {
        assertEquals("en", LanguageIdentifier.identify(
                "The committee will publish its final report on the state of the railways next week.", FOUR, 0));
        assertEquals("de", LanguageIdentifier.identify(
                "Der Ausschuss wird seinen Abschlussbericht über den Zustand der Eisenbahn nächste Woche"
                        + " veröffentlichen.", FOUR, 0));
        assertEquals("fr", LanguageIdentifier.identify(
                "Le comité publiera son rapport final sur l'état des chemins de fer la semaine prochaine.", FOUR, 0));
        assertEquals("zh", LanguageIdentifier.identify("委员会将于下周发布关于铁路状况的最终报告。", FOUR, 0));
    }

    @Test
    void textWithoutLettersIsUnidentified() {
        assertNull(LanguageIdentifier.identify("12345 67 -- !!", FOUR, 0));
    }

    @Test
    void unknownCodesAreReportedWithTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LanguageIdentifier.languages(List.of("en", "english"), "clean option languages"));
        assertTrue(e.getMessage().contains("clean option languages") && e.getMessage().contains("english"),
                e.getMessage());
    }

    @Test
    void aSingleLanguageWithNothingToTellItApartIsAConfigError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CleanOptions.defaults().withLanguages(List.of("en"), List.of()));
        assertTrue(e.getMessage().contains("detect_languages"), e.getMessage());
    }
}
