package dev.sparktune.train;

import ai.djl.ndarray.NDArray;

/**
 * Summed token losses and how many tokens were scored, per row or per packed segment; kept apart so that means
 * over several micro-batches (gradient accumulation, logging across ranks) divide by the true token count.
 *
 * @param sums   summed negative log-likelihood
 * @param counts number of scored tokens, same shape and dtype as {@code sums}
 */
public record LossSums(NDArray sums, NDArray counts) {

    /** Mean loss of each entry; 0 where nothing was scored. */
    public NDArray means() {
        return sums.div(counts.maximum(1));
    }
}
