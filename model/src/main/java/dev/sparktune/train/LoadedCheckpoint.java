package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A training checkpoint read back: its folder's location (a local path or a Hadoop file system
 * URI, as it was given to or listed by {@link TrainingCheckpoints}), the trainer state, the trainable tensors by
 * parameter name and the optimizer state tensors by {@code <parameter>/<state>} name. The tensors
 * belong to the manager given to {@link TrainingCheckpoints#load}.
 */
public record LoadedCheckpoint(
        String folder,
        TrainerState state,
        SortedMap<String, NDArray> model,
        SortedMap<String, NDArray> optimizer) {

    /** The optimizer state of one parameter by state name, e.g. {@code exp_avg}, {@code exp_avg_sq}. */
    public SortedMap<String, NDArray> optimizerState(String parameter) {
        String prefix = parameter + TrainingCheckpoints.OPTIMIZER_NAME_SEPARATOR;
        SortedMap<String, NDArray> states = new TreeMap<>();
        for (Map.Entry<String, NDArray> e : optimizer.subMap(prefix, prefix + Character.MAX_VALUE).entrySet()) {
            states.put(e.getKey().substring(prefix.length()), e.getValue());
        }
        return Collections.unmodifiableSortedMap(states);
    }
}
