package dev.sparktune.augment;

import java.util.ArrayList;
import java.util.List;

/** One language's word segmentation and synonym dictionary, as synonym replacement and EDA need them. */
public interface Lexicon {
    /** The text as tokens whose concatenation is the text; protected spans come back {@link Token#fixed}. */
    default List<Token> tokenize(String text, ProtectedTokens protectedTokens) {
        List<Token> tokens = new ArrayList<>();
        for (Token part : protectedTokens.split(text)) {
            if (part.fixed()) {
                tokens.add(part);
            } else {
                segment(part.text(), tokens);
            }
        }
        return tokens;
    }

    /** Appends the tokens of a stretch of text without protected spans; their concatenation must be the text. */
    void segment(String free, List<Token> out);

    /** Synonyms of a content word, most common sense first; empty for stop words and words it cannot replace. */
    List<String> synonyms(Token word);

    /** What goes between an inserted word and its neighbour: a space in English, nothing in Chinese. */
    String wordSeparator();

    /** The lexicon for a text's language: Chinese when Han characters dominate, English otherwise. */
    static Lexicon forText(String text) {
        return ChineseLexicon.isChinese(text) ? ChineseLexicon.get() : EnglishLexicon.get();
    }
}
