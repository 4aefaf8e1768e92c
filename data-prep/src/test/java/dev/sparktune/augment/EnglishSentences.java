package dev.sparktune.augment;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Plain English sentences for back-translation tests, and a check that a text is English by its vocabulary. */
final class EnglishSentences {
    static final List<String> SENTENCES = List.of(
            "The weather was very cold this morning, so I stayed at home.",
            "My brother bought a new car last week.",
            "Please send me the report before the meeting on Friday.",
            "The children are playing in the garden behind the house.",
            "She reads a book every night before she goes to sleep.",
            "We need to fix the broken window in the kitchen.",
            "The train to the city leaves at eight in the morning.",
            "He works at a small company that builds houses.",
            "I think the price of this computer is too high.",
            "They visited their grandmother in the village during the summer.",
            "The doctor told him to drink more water and rest.",
            "Our teacher gave us a difficult test yesterday.",
            "The old bridge over the river was closed for repairs.",
            "I would like to order a cup of coffee and a piece of cake.",
            "The store on the corner sells fresh bread every day.",
            "Many people travel to the mountains in the winter.",
            "The cat is sleeping on the chair near the fire.",
            "You can find the keys on the table in the hall.",
            "The company announced a new product for young customers.",
            "We walked along the beach and watched the sunset.",
            "The students asked the professor many questions about the history of the country.",
            "It rained all day, and the streets were full of water.",
            "My sister wants to study medicine at the university.",
            "The farmer grows potatoes and apples on his land.",
            "The police found the stolen money in an empty house.",
            "He forgot his umbrella at the office again.",
            "The music at the party was too loud for the neighbours.",
            "She opened the letter and started to cry.",
            "The bus was late because of the heavy traffic.",
            "They built a small hospital in the centre of the town.");

    private static final Set<String> SPANISH = Set.of("el", "la", "los", "las", "del", "que", "y", "en", "es", "un",
            "una", "por", "con", "para", "su", "muy", "pero", "como");

    private EnglishSentences() {
    }

    /** Words of a text, lower case. */
    static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}']+")) {
            if (!w.isEmpty()) {
                words.add(w);
            }
        }
        return words;
    }

    /** Share of words WordNet knows or that are English function words. */
    static double englishShare(String text) {
        EnglishLexicon english = EnglishLexicon.get();
        List<String> words = words(text);
        return words.stream().filter(w -> english.knows(w) || english.isStopWord(w)).count() / (double) words.size();
    }

    /** Share of words that are common Spanish function words. */
    static double spanishShare(String text) {
        List<String> words = words(text);
        return words.stream().filter(SPANISH::contains).count() / (double) words.size();
    }
}
