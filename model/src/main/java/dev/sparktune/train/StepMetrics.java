package dev.sparktune.train;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one logged optimizer step reports; a line of the JSONL metrics file.
 *
 * @param taskLosses      mean loss of each task's rows in the step, by task name; empty for one task
 * @param gradNorm        global gradient norm before clipping
 * @param elapsedSeconds  wall time since the run (or the resumed run) started
 * @param communicationSeconds wall time of the same span this rank spent in the training steps' collective calls
 *                        (reducing gradients, gathering parameters, waiting for peers); 0 on one rank, NaN where not
 *                        recorded (metrics files written before it was)
 * @param rows            rows trained on so far by each task, over all ranks and since the run's first step
 * @param validation      the validation run after this step, by metric name ({@code validation},
 *                        {@code validation/<task>/loss}, {@code validation/<task>/accuracy}, ...); empty when the step
 *                        was not validated
 */
public record StepMetrics(
        long step,
        double loss,
        Map<String, Double> taskLosses,
        double learningRate,
        double gradNorm,
        double tokensPerSecond,
        double elapsedSeconds,
        double communicationSeconds,
        Map<String, Long> rows,
        Map<String, Double> validation) {

    public StepMetrics {
        taskLosses = Collections.unmodifiableSortedMap(new TreeMap<>(taskLosses));
        rows = Collections.unmodifiableSortedMap(new TreeMap<>(rows));
        validation = Collections.unmodifiableSortedMap(new TreeMap<>(validation));
    }

    /** A step without communication time, row counts or validation. */
    public StepMetrics(long step, double loss, Map<String, Double> taskLosses, double learningRate, double gradNorm,
                       double tokensPerSecond, double elapsedSeconds) {
        this(step, loss, taskLosses, learningRate, gradNorm, tokensPerSecond, elapsedSeconds, Double.NaN, Map.of(),
                Map.of());
    }

    /** Whether validation ran after this step. */
    public boolean validated() {
        return !validation.isEmpty();
    }
}
