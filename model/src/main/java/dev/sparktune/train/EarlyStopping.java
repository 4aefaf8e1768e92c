package dev.sparktune.train;

import java.util.OptionalDouble;

/**
 * Hugging Face's EarlyStoppingCallback rule: stop once {@code patience} evaluations in a row
 * brought no new best (strictly lower) validation loss; patience 0 never stops.
 */
final class EarlyStopping {
    private final int patience;
    private double best;
    private int sinceBest;

    EarlyStopping(int patience) {
        this(patience, OptionalDouble.empty(), 0);
    }

    EarlyStopping(int patience, OptionalDouble best, int sinceBest) {
        this.patience = patience;
        this.best = best.orElse(Double.NaN);
        this.sinceBest = sinceBest;
    }

    /** Records one evaluation; true when training should stop. */
    boolean observe(double validationLoss) {
        if (Double.isNaN(best) || validationLoss < best) {
            best = validationLoss;
            sinceBest = 0;
        } else {
            sinceBest++;
        }
        return stopped();
    }

    /** True once {@code patience} evaluations in a row brought no new best: also after a resume of a stopped run. */
    boolean stopped() {
        return patience > 0 && sinceBest >= patience;
    }

    /** The best validation loss so far, NaN before the first evaluation. */
    double best() {
        return best;
    }

    int sinceBest() {
        return sinceBest;
    }
}
