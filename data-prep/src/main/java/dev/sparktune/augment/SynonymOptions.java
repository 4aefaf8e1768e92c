package dev.sparktune.augment;

import java.util.List;

/**
 * How synonym replacement rewrites one text.
 *
 * @param rate            fraction of the replaceable words to replace (at least one when any is replaceable)
 * @param maxReplacements upper bound on replacements per text
 * @param protectedTokens extra tokens never touched, matched as whole words, case-sensitive (placeholders such as
 *                        {@code <EMAIL>}, numbers, URLs and e-mail addresses are always protected)
 */
public record SynonymOptions(double rate, int maxReplacements, List<String> protectedTokens)
        implements java.io.Serializable {
    public SynonymOptions {
        if (!(rate > 0 && rate <= 1)) {
            throw new IllegalArgumentException("synonym rate must be in (0, 1], got " + rate);
        }
        if (maxReplacements < 1) {
            throw new IllegalArgumentException("synonym max replacements must be at least 1, got " + maxReplacements);
        }
        protectedTokens = List.copyOf(protectedTokens);
    }

    public static SynonymOptions defaults() {
        return new SynonymOptions(0.1, 5, List.of());
    }
}
