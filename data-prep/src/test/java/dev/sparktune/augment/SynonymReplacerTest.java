package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SynonymReplacerTest {
    /** Replace every replaceable word, up to 10. */
    private static final SynonymOptions ALL = new SynonymOptions(1.0, 10, List.of());

    @Test
    void carBecomesAWordNetSynonymOfCar() {
        // WordNet 3.1 noun car#1 = {car, auto, automobile, machine, motorcar}
        Set<String> seen = new HashSet<>();
        for (int seed = 0; seed < 40; seed++) {
            seen.add(new SynonymReplacer(ALL).replace("car", new SplittableRandom(seed)));
        }
        assertTrue(seen.contains("automobile"), () -> "car was replaced by " + seen);
        assertTrue(Set.of("auto", "automobile", "machine", "motorcar", "railcar", "railway car", "railroad car",
                "gondola", "elevator car", "cable car").containsAll(seen), () -> "car was replaced by " + seen);
    }

    @Test
    void regularNounPluralsGetPluralSynonyms() {
        Set<String> seen = new HashSet<>();
        for (int seed = 0; seed < 40; seed++) {
            seen.add(new SynonymReplacer(ALL).replace("cars", new SplittableRandom(seed)));
        }
        assertTrue(seen.contains("automobiles"), () -> "cars was replaced by " + seen);
        assertTrue(Set.of("autos", "automobiles", "machines", "motorcars", "railcars", "gondolas").containsAll(seen),
                () -> "cars was replaced by " + seen);
    }

    @Test
    void theWordBeforeChoosesThePartOfSpeech() {
        EnglishLexicon english = EnglishLexicon.get();
        List<String> verb = english.synonyms(english.tokenize("to book", new ProtectedTokens(List.of())).get(2));
        List<String> noun = english.synonyms(english.tokenize("the book", new ProtectedTokens(List.of())).get(2));
        // WordNet 3.1: verb book#1 = {book, reserve, hold}; noun book#2 = {book, volume}
        assertTrue(verb.contains("reserve") && !verb.contains("volume"), () -> "to book: " + verb);
        assertTrue(noun.contains("volume") && !noun.contains("reserve"), () -> "the book: " + noun);
    }

    @Test
    void keepsCaseOfACapitalisedWord() {
        String out = new SynonymReplacer(ALL).replace("Car", new SplittableRandom(1));
        assertTrue(Character.isUpperCase(out.charAt(0)), out);
        assertNotEquals("Car", out);
    }

    @Test
    void knownWordNetPairs() {
        EnglishLexicon english = EnglishLexicon.get();
        assertTrue(english.synonyms(Token.word("happy", null)).contains("felicitous")
                || english.synonyms(Token.word("happy", null)).contains("glad"),
                () -> "happy: " + english.synonyms(Token.word("happy", null)));
        assertTrue(english.synonyms(Token.word("buy", null)).contains("purchase"),
                () -> "buy: " + english.synonyms(Token.word("buy", null)));
        assertTrue(english.synonyms(Token.word("big", null)).contains("large"),
                () -> "big: " + english.synonyms(Token.word("big", null)));
    }

    @Test
    void stopWordsAndNamesAreNeverReplaced() {
        EnglishLexicon english = EnglishLexicon.get();
        for (String w : List.of("the", "and", "would", "London", "NASA")) {
            assertEquals(List.of(), english.synonyms(Token.word(w, null)), w);
        }
    }

    @Test
    void knownCoreSynonymPairs() {
        // CoreSynonym.txt: "Bo01A27= 计算机 电脑 微处理机 ...", "Ga01A01= 高兴 开心 愉快 ...", "Eb30A01= 美丽 漂亮 ..."
        ChineseLexicon chinese = ChineseLexicon.get();
        assertTrue(chinese.synonyms(Token.word("电脑", "n")).contains("计算机"));
        assertTrue(chinese.synonyms(Token.word("高兴", "a")).contains("开心"));
        assertTrue(chinese.synonyms(Token.word("美丽", "a")).contains("漂亮"));
        // "#" groups are only related words: 汽车 is in "Bo21A26# 汽车 公共汽车 ..." and in no "=" group with 客车
        assertTrue(!chinese.synonyms(Token.word("汽车", "n")).contains("客车"));
    }

    @Test
    void chineseSentenceGetsCoreSynonymReplacements() {
        String text = "我今天很高兴，因为我买了一台新电脑。";
        Set<String> outs = new HashSet<>();
        for (int seed = 0; seed < 20; seed++) {
            outs.add(new SynonymReplacer(ALL).replace(text, new SplittableRandom(seed)));
        }
        assertTrue(outs.stream().anyMatch(o -> !o.contains("电脑") && o.contains("我买了一台新")), () -> outs.toString());
        assertTrue(outs.stream().anyMatch(o -> !o.contains("高兴")), () -> outs.toString());
        for (String o : outs) {
            assertTrue(o.startsWith("我今天很") && o.contains("，因为我买了一台新") && o.endsWith("。"), o);
        }
    }

    @Test
    void protectedTokensAreNeverTouched() {
        SynonymReplacer replacer = new SynonymReplacer(new SynonymOptions(1.0, 100, List.of("fast car", "Spark")));
        String text = "Mail <EMAIL> about the fast car at https://example.org/big/car?house=1 "
                + "or call 555-0100 before 12:30, the big house runs Spark on a big machine; write bob.smith@example.com";
        for (int seed = 0; seed < 20; seed++) {
            String out = replacer.replace(text, new SplittableRandom(seed));
            assertNotEquals(text, out);
            for (String kept : List.of("<EMAIL>", "fast car", "https://example.org/big/car?house=1", "555-0100",
                    "12:30", "Spark", "bob.smith@example.com")) {
                assertTrue(out.contains(kept), () -> kept + " was changed in: " + out);
            }
        }
        String chinese = "请把<PHONE>发给我，我今天很高兴。";
        for (int seed = 0; seed < 10; seed++) {
            String out = replacer.replace(chinese, new SplittableRandom(seed));
            assertTrue(out.startsWith("请把<PHONE>"), out);
        }
    }

    @Test
    void rateAndMaxBoundTheNumberOfReplacements() {
        String text = "big big big big big big";
        // rate 1.0 but at most 2: four "big" stay
        assertEquals(4, count("big", new SynonymReplacer(new SynonymOptions(1.0, 2, List.of()))
                .replace(text, new SplittableRandom(3))));
        // rate 0.5 of 6 words = 3 replacements
        assertEquals(3, count("big", new SynonymReplacer(new SynonymOptions(0.5, 100, List.of()))
                .replace(text, new SplittableRandom(3))));
        // a tiny rate still replaces one word
        assertEquals(5, count("big", new SynonymReplacer(new SynonymOptions(0.01, 100, List.of()))
                .replace(text, new SplittableRandom(3))));
    }

    private static long count(String word, String text) {
        return java.util.regex.Pattern.compile("\\b" + word + "\\b").matcher(text).results().count();
    }

    @Test
    void sameSeedSameResult() {
        String text = "The quick brown fox jumps over the lazy dog near the old river bank.";
        SynonymReplacer replacer = new SynonymReplacer(new SynonymOptions(0.3, 5, List.of()));
        String a = replacer.replace(text, StableHash.random("7", "row-1", "synonym", "0"));
        String b = replacer.replace(text, StableHash.random("7", "row-1", "synonym", "0"));
        assertEquals(a, b);
        Set<String> variants = new HashSet<>();
        for (int v = 0; v < 10; v++) {
            variants.add(replacer.replace(text, StableHash.random("7", "row-1", "synonym", Integer.toString(v))));
        }
        assertTrue(variants.size() > 1, "different variants should usually differ");
    }

    @Test
    void textWithNothingReplaceableComesBackUnchanged() {
        String text = "<EMAIL> 12345 the and of";
        assertEquals(text, new SynonymReplacer(ALL).replace(text, new SplittableRandom(0)));
    }
}
