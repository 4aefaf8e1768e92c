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
 */
public record StepMetrics(
        long step,
        double loss,
        Map<String, Double> taskLosses,
        double learningRate,
        double gradNorm,
        double tokensPerSecond,
        double elapsedSeconds) {

    public StepMetrics {
        taskLosses = Collections.unmodifiableSortedMap(new TreeMap<>(taskLosses));
    }
}
