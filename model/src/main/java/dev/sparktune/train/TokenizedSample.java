package dev.sparktune.train;

import java.util.Arrays;
import java.util.Objects;

/**
 * One training sequence as the tokenized Parquet stores it: token ids and, aligned with them, the labels the loss
 * scores ({@value CausalLmLoss#IGNORE_INDEX} where nothing is learned). Labels are not shifted: as in Hugging Face,
 * {@code labels[t]} is the token at {@code t}, and {@link CausalLmLoss} predicts it from position {@code t - 1}.
 */
public record TokenizedSample(long[] inputIds, long[] labels) {

    public TokenizedSample {
        Objects.requireNonNull(inputIds, "inputIds");
        Objects.requireNonNull(labels, "labels");
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException("a sample needs one label per token: " + inputIds.length
                    + " input ids, " + labels.length + " labels");
        }
    }

    /** Continued pretraining: every token is a label (the shift in the loss makes it next-token prediction). */
    public static TokenizedSample pretraining(long[] inputIds) {
        return new TokenizedSample(inputIds, inputIds.clone());
    }

    public int length() {
        return inputIds.length;
    }

    /** How many labels the loss scores: not ignored, and not the first (nothing precedes it to predict it). */
    public int predictedTokens() {
        int n = 0;
        for (int t = 1; t < labels.length; t++) {
            if (labels[t] != CausalLmLoss.IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedSample other
                && Arrays.equals(inputIds, other.inputIds) && Arrays.equals(labels, other.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "TokenizedSample[inputIds=" + Arrays.toString(inputIds) + ", labels=" + Arrays.toString(labels) + "]";
    }
}
