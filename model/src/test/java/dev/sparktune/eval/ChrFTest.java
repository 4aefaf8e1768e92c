package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Expected values are sacreBLEU's own (github.com/mjpost/sacrebleu): its README and {@code test/test_chrf.py}
 * (EPSILON = 1e-4 there), each cited next to the value.
 */
class ChrFTest {

    private static double corpus(ChrF chrf, String hyp, String ref) {
        return chrf.corpusScore(List.of(hyp), List.of(List.of(ref))).score();
    }

    @Test
    void readmeCorpusChrFWithTwoReferences() {
        // README "Using SacreBLEU from Python": CHRF().corpus_score(sys, refs) -> chrF2 = 59.73
        ChrF.Score score = ChrF.defaults().corpusScore(BleuTest.HYPS, BleuTest.REFS);
        assertEquals("chrF2 = 59.73", String.format(Locale.ROOT, "%s = %.2f", score.name(), score.score()));
    }

    @Test
    void sentenceLevelWithEpsSmoothing() {
        ChrF chrf = new ChrF(6, 2, false, true);
        // test_chrf.py test_chrf_sentence_level: sentence_chrf(hyp, refs, eps_smoothing=True)
        assertEquals(39.14078509, chrf.sentenceScore("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
                List.of("Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.")).score(), 1e-4);
        assertEquals(31.22557079, chrf.sentenceScore("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
                List.of("A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.")).score(), 1e-4);
        assertEquals(57.15704367, chrf.sentenceScore("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
                List.of("Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.")).score(), 1e-4);
    }

    @Test
    void epsSmoothingBetaThree() {
        // test_chrf.py test_chrf: corpus_chrf(..., char_order=6, word_order=0, beta=3, eps_smoothing=True)
        ChrF chrf = new ChrF(6, 3, false, true);
        assertEquals(0.0, corpus(chrf, "abcdefg", "hijklmnop"), 1e-4);
        assertEquals(0.0, corpus(chrf, "", "reference"), 1e-4);
        assertEquals(8.3333, corpus(chrf, "aa", "ab"), 1e-4);
        assertEquals(8.3333, chrf.corpusScore(List.of("a", "b"), List.of(List.of("a", "c"))).score(), 1e-4);
        assertEquals(16.6667, corpus(chrf, "a", "a"), 1e-4);
        assertEquals(50.0, corpus(chrf, "a b c", "abc"), 1e-4);
        assertEquals(63.361730, corpus(chrf,
                " risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
                "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."), 1e-4);
        assertEquals(64.1302698, corpus(chrf,
                " Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. ",
                "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."), 1e-4);
        assertEquals(100.0, corpus(chrf, "Niemand hat die Absicht, eine Mauer zu errichten",
                "Niemand hat die Absicht, eine Mauer zu errichten"), 1e-4);
    }

    @Test
    void effectiveOrderBetaThree() {
        // test_chrf.py test_chrf_eff_order: beta=3, eps_smoothing=False (sacreBLEU's default averaging)
        ChrF chrf = new ChrF(6, 3, false, false);
        assertEquals(100.0, corpus(chrf, "a", "a"), 1e-4);
        assertEquals(0.0, corpus(chrf, "", "reference"), 1e-4);
        assertEquals(100.0, corpus(chrf, "a b c", "a b c"), 1e-4);
        assertEquals(100.0, corpus(chrf, "a b c", "abc"), 1e-4);
        assertEquals(0.0, corpus(chrf, "", "c"), 1e-4);
        assertEquals(50.0, chrf.corpusScore(List.of("a", "b"), List.of(List.of("a", "c"))).score(), 1e-4);
        assertEquals(25.0, corpus(chrf, "aa", "ab"), 1e-4);
    }

    @Test
    void keepWhitespaceBetaThree() {
        // test_chrf.py test_chrf_keep_whitespace: beta=3, remove_whitespace=False
        ChrF chrf = new ChrF(6, 3, true, false);
        assertEquals(67.3481606, corpus(chrf, "Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.",
                "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."), 1e-4);
        assertEquals(65.2414427, corpus(chrf,
                "risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
                "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."), 1e-4);
    }
}
