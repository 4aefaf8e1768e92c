package dev.sparktune.tokenize;

/** A special token's text and id, e.g. {@code <|im_end|>} and 151645. */
public record SpecialToken(String text, long id) {
}
