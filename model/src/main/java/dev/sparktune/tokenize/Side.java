package dev.sparktune.tokenize;

import java.util.Arrays;

/** An end of a token sequence: where padding goes ({@code padding_side}) or tokens are cut ({@code truncation_side}). */
public enum Side {
    LEFT, RIGHT;

    /** Parses Hugging Face's spelling, {@code "left"} or {@code "right"}; null for anything else. */
    static Side parse(String value) {
        return switch (value) {
            case "left" -> LEFT;
            case "right" -> RIGHT;
            default -> null;
        };
    }

    /** Keeps {@code length} tokens, dropping the surplus at this end. */
    long[] truncate(long[] ids, int length) {
        if (ids.length <= length) {
            return ids;
        }
        return this == RIGHT ? Arrays.copyOf(ids, length) : Arrays.copyOfRange(ids, ids.length - length, ids.length);
    }

    /** Fills {@code ids} up to {@code length} with {@code value} at this end. */
    long[] pad(long[] ids, int length, long value) {
        long[] padded = new long[length];
        Arrays.fill(padded, value);
        System.arraycopy(ids, 0, padded, this == RIGHT ? 0 : length - ids.length, ids.length);
        return padded;
    }
}
