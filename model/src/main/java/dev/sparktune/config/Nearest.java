package dev.sparktune.config;

import java.util.Collection;
import java.util.Comparator;

/**
 * The candidate closest to a misspelled name: one the name abbreviates or extends ({@code evaluation} for
 * {@code eval}) first, then by edit distance (Levenshtein).
 */
final class Nearest {
    private Nearest() {
    }

    static String of(String wrong, Collection<String> candidates) {
        return candidates.stream()
                .min(Comparator.comparing((String c) -> !(wrong.startsWith(c) || c.startsWith(wrong)))
                        .thenComparingInt(c -> distance(wrong, c)).thenComparing(c -> c))
                .orElse("");
    }

    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
