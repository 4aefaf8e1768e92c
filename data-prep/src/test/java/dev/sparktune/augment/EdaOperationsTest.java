package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class EdaOperationsTest {
    private static final String TEXT = "the old man bought a big house near <EMAIL> in 2024";

    @Test
    void swapKeepsTheSameWordsInAnotherOrder() {
        EdaOperations swap = new EdaOperations(new EdaOptions(0.2, 0, 0), List.of());
        String out = swap.apply(TEXT, new SplittableRandom(5));
        assertNotEquals(TEXT, out);
        assertEquals(sorted(TEXT), sorted(out));
        String[] words = out.split(" ");
        assertEquals("<EMAIL>", words[8], out); // protected tokens stay where they were
        assertEquals("2024", words[10], out);
    }

    @Test
    void deleteRemovesWordsButNeverProtectedTokens() {
        EdaOperations delete = new EdaOperations(new EdaOptions(0, 0, 0.5), List.of());
        for (int seed = 0; seed < 10; seed++) {
            String out = delete.apply(TEXT, new SplittableRandom(seed));
            assertTrue(out.split(" ").length < TEXT.split(" ").length, out);
            assertTrue(out.contains("<EMAIL>") && out.contains("2024"), out);
            assertTrue(!out.contains("  "), out);
        }
    }

    @Test
    void insertAddsASynonymOfAWordInTheText() {
        EdaOperations insert = new EdaOperations(new EdaOptions(0, 0.1, 0), List.of());
        String out = insert.apply("the big house", new SplittableRandom(2));
        List<String> words = Arrays.asList(out.split(" "));
        assertTrue(words.size() > 3, out);
        List<String> synonyms = new java.util.ArrayList<>(EnglishLexicon.get().synonyms(Token.word("big", null)));
        synonyms.addAll(EnglishLexicon.get().synonyms(Token.word("house", null)));
        assertTrue(synonyms.stream().anyMatch(out::contains), () -> out + " vs " + synonyms);
    }

    @Test
    void chineseSwapMovesHanLpWordsAndKeepsTheCharacters() {
        String text = "我今天很高兴，因为我买了一台新电脑。";
        String out = new EdaOperations(new EdaOptions(0.3, 0, 0), List.of()).apply(text, new SplittableRandom(4));
        assertNotEquals(text, out);
        assertEquals(text.chars().sorted().boxed().toList(), out.chars().sorted().boxed().toList());
        assertTrue(out.endsWith("。"), out);
    }

    @Test
    void sameRandomStreamSameResult() {
        EdaOperations eda = new EdaOperations(EdaOptions.defaults(), List.of());
        assertEquals(eda.apply(TEXT, StableHash.random("1", "id", "eda", "0")),
                eda.apply(TEXT, StableHash.random("1", "id", "eda", "0")));
    }

    private static List<String> sorted(String text) {
        return Arrays.stream(text.split(" ")).sorted().toList();
    }
}
