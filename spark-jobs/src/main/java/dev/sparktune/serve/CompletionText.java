package dev.sparktune.serve;

import dev.sparktune.generate.Generator;
import dev.sparktune.tokenize.Tokenizer;
import java.util.List;

/**
 * The text of a completion as its tokens arrive. {@link #complete} is the Generator's rule (decode without special
 * tokens, cut at each stop string); {@link #delta} hands out, while tokens still come, only text that later tokens
 * cannot change, so that the deltas of a stream add up to exactly {@link #complete}'s text. Decoders rewrite the end of
 * their text (a word piece glues onto the word before it, a space before punctuation goes away), so text after the
 * last space is held back, and so is any tail that could be the start of a stop string.
 */
final class CompletionText {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int holdBack;
    private final StringBuilder sent = new StringBuilder();

    CompletionText(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = stops;
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** The Generator's text for these tokens: decoded without special tokens and cut before each stop string. */
    static String complete(Tokenizer tokenizer, long[] tokens, List<String> stops) {
        return Generator.cutAtStops(tokenizer.decode(tokens, true), stops);
    }

    /** New text that is safe to send after {@code tokens} (all generated so far), or "" when there is none yet. */
    String delta(long[] tokens) {
        String text = complete(tokenizer, tokens, stops);
        int stable = Math.max(0, Math.min(text.lastIndexOf(' '), text.length() - holdBack));
        return send(text.substring(0, stable));
    }

    /** The rest of the final text; returns "" if what was sent is not its start (then nothing more can be right). */
    String rest(long[] tokens) {
        return send(complete(tokenizer, tokens, stops));
    }

    /** The final text as sent so far. */
    String sent() {
        return sent.toString();
    }

    private String send(String upTo) {
        if (upTo.length() <= sent.length() || !upTo.startsWith(sent.toString())) {
            return "";
        }
        String delta = upTo.substring(sent.length());
        sent.append(delta);
        return delta;
    }
}
