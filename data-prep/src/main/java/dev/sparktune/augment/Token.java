package dev.sparktune.augment;

/**
 * A piece of a text. Concatenating a text's tokens gives the text back. Only {@code word} tokens that are not
 * {@code fixed} may be replaced, moved or deleted; {@code fixed} marks protected tokens (placeholders, numbers,
 * URLs, configured words), which are never words.
 *
 * @param pos a coarse part of speech where the tokenizer knows one ({@code n}, {@code v}, {@code a}, ...), else null
 */
public record Token(String text, boolean word, boolean fixed, String pos) {
    static Token word(String text, String pos) {
        return new Token(text, true, false, pos);
    }

    static Token other(String text) {
        return new Token(text, false, false, null);
    }

    static Token fixed(String text) {
        return new Token(text, false, true, null);
    }
}
