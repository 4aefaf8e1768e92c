package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Expected stems are NLTK's published outputs for {@code PorterStemmer()} (mode NLTK_EXTENSIONS). */
class PorterStemmerTest {

    @Test
    void nltkStemDoctestPlurals() {
        // nltk/test/stem.doctest (github.com/nltk/nltk), "Unit tests for the Porter stemmer"
        String plurals = "caresses flies dies mules denied died agreed owned humbled sized meeting stating siezing"
                + " itemization sensational traditional reference colonizer plotted";
        String expected = "caress fli die mule deni die agre own humbl size meet state siez item sensat tradit refer"
                + " colon plot";
        assertEquals(expected, Arrays.stream(plurals.split(" ")).map(PorterStemmer::stem).collect(Collectors.joining(" ")));
    }

    @Test
    void nltkOedBug() {
        // nltk/test/unit/test_stem.py, PorterTest.test_oed_bug: PorterStemmer().stem("oed") == "o"
        assertEquals("o", PorterStemmer.stem("oed"));
    }
}
