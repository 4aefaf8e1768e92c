package dev.sparktune.train;

import java.time.Duration;
import java.util.Optional;

/**
 * Told by every rank after each optimizer step, once that step's checkpoint (if any) is complete. A Spark job
 * uses it to send progress to the driver while training runs; tests use it to stop a rank at a chosen step.
 */
@FunctionalInterface
public interface StepListener {
    StepListener NONE = progress -> { };

    void afterStep(StepProgress progress);

    /**
     * One rank's view of a finished step: its metrics (the loss is already the mean over all ranks) and the time
     * left at the recent pace (empty before a step has been timed).
     */
    record StepProgress(int rank, long totalSteps, StepMetrics metrics, Optional<Duration> eta) {
    }
}
