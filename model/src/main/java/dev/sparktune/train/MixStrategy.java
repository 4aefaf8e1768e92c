package dev.sparktune.train;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How the rows of several tasks make up one epoch, with LLaMA-Factory's {@code mix_strategy}
 * names. The interleaving ones follow Hugging Face {@code datasets.interleave_datasets}:
 * {@code first_exhausted} and {@code all_exhausted}.
 */
public enum MixStrategy {
    /** Every row of every task once, in one shuffled order. */
    CONCAT("concat"),
    /** Interleave until the first task runs out of rows: small tasks set the length (undersampling). */
    INTERLEAVE_UNDER("interleave_under"),
    /** Interleave until every task has been used up at least once; tasks that run out start over (oversampling). */
    INTERLEAVE_OVER("interleave_over");

    private final String key;

    MixStrategy(String key) {
        this.key = key;
    }

    /** The name in the job config, e.g. {@code interleave_under}. */
    public String key() {
        return key;
    }

    public static MixStrategy of(String key) {
        return Arrays.stream(values()).filter(s -> s.key.equals(key)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown mix_strategy '" + key + "'; expected one of "
                        + Arrays.stream(values()).map(MixStrategy::key).collect(Collectors.joining(", "))));
    }
}
