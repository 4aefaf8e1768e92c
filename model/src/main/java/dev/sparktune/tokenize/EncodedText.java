package dev.sparktune.tokenize;

/**
 * Token ids with where each token came from in the text, for mapping character spans (an assistant turn) to
 * tokens.
 *
 * @param starts offset of each token's first char in the Java string, -1 for a special token the framing added
 * @param ends   offset just past each token's last char, -1 for a special token the framing added
 */
public record EncodedText(long[] ids, int[] starts, int[] ends) {
}
