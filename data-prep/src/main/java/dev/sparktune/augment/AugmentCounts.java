package dev.sparktune.augment;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the augment stage did: {@code outputRows = inputRows - rejectedRows + sum(augmented)}; {@code rejectedRows}
 * are rows whose augmentation threw (they are in {@code _rejected/} with the reason, and no copy of them is made). {@code unaugmented} counts, per
 * method and reason, the copies a method was asked for (the row was picked by its ratio) but did not make:
 * <ul>
 *   <li>{@code no_text}: the row has no text and no user turn to rewrite;</li>
 *   <li>{@code no_replaceable_word} (synonym), {@code no_applicable_operation} (eda): nothing could change;</li>
 *   <li>{@code same_as_other_copy}: a second copy of the same row came out like the first;</li>
 *   <li>{@code translation_unchanged}: the back-translation equals the input up to whitespace and case;</li>
 *   <li>{@code translator_unavailable}: the server was down or too slow after every retry;</li>
 *   <li>{@code translator_error}: the server answered with an error or an unreadable answer.</li>
 * </ul>
 */
public record AugmentCounts(long inputRows, long trainRows, long outputRows, long rejectedRows,
        Map<String, Long> augmented,
        Map<String, Map<String, Long>> unaugmented) implements Serializable {

    public AugmentCounts {
        augmented = new TreeMap<>(augmented);
        TreeMap<String, Map<String, Long>> copy = new TreeMap<>();
        unaugmented.forEach((method, reasons) -> copy.put(method, new TreeMap<>(reasons)));
        unaugmented = copy;
    }

    public long augmented(AugmentMethod method) {
        return augmented.getOrDefault(method.label(), 0L);
    }

    public long unaugmented(AugmentMethod method, String reason) {
        return unaugmented.getOrDefault(method.label(), Map.of()).getOrDefault(reason, 0L);
    }

    public long unaugmented(AugmentMethod method) {
        return unaugmented.getOrDefault(method.label(), Map.of()).values().stream().mapToLong(Long::longValue).sum();
    }
}
