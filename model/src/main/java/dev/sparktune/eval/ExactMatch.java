package dev.sparktune.eval;

import java.util.List;

/**
 * Exact match: the fraction of predictions equal, character for character, to one of their references (Hugging
 * Face {@code evaluate}'s {@code exact_match} with its default options, which compares without normalising; with
 * several references a prediction counts when it equals any of them, as in SQuAD's evaluation).
 */
public final class ExactMatch {
    private ExactMatch() {
    }

    /** {@code referenceStreams} as in {@link Bleu#corpusScore}. */
    public static double score(List<String> predictions, List<List<String>> referenceStreams) {
        ReferenceStreams.requireAligned(predictions, referenceStreams);
        if (predictions.isEmpty()) {
            throw new IllegalArgumentException("no predictions");
        }
        long matches = 0;
        for (int i = 0; i < predictions.size(); i++) {
            if (ReferenceStreams.column(referenceStreams, i).contains(predictions.get(i))) {
                matches++;
            }
        }
        return (double) matches / predictions.size();
    }
}
