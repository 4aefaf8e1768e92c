package dev.sparktune.train;

import dev.sparktune.config.DataConfig;
import java.util.List;

/**
 * How a run mixes its tasks, before the tasks' sizes are known: a {@link MixStrategy} and either
 * {@code interleave_probs}, a size temperature, or neither (round robin). {@link #mixer} binds it to
 * the tasks, whose sizes the trainer counts in micro-batches.
 *
 * @param probabilities one per task, or empty
 * @param temperature   sample by size with this temperature (see {@link TaskMixer#byTemperature}); 0 = not used
 */
public record TaskMix(MixStrategy strategy, List<Double> probabilities, double temperature)
        implements java.io.Serializable {

    public TaskMix {
        probabilities = List.copyOf(probabilities);
        if (!probabilities.isEmpty() && temperature != 0) {
            throw new IllegalArgumentException("mix tasks by interleave_probs or by temperature, not both");
        }
        if (strategy == MixStrategy.CONCAT && (!probabilities.isEmpty() || temperature != 0)) {
            throw new IllegalArgumentException("concat takes every row once; probabilities and temperature need"
                    + " interleave_under or interleave_over");
        }
    }

    /** Every row of every task once per epoch, in one shuffled order. */
    public static TaskMix concat() {
        return new TaskMix(MixStrategy.CONCAT, List.of(), 0);
    }

    /** The data section's {@code mix_strategy}, {@code interleave_probs} and {@code mix_temperature}. */
    public static TaskMix fromConfig(DataConfig data) {
        return new TaskMix(MixStrategy.of(data.mixStrategy()), data.interleaveProbs(), data.mixTemperature());
    }

    public TaskMixer mixer(List<Task> tasks) {
        if (strategy == MixStrategy.CONCAT) {
            return TaskMixer.concat(tasks);
        }
        if (temperature != 0) {
            return TaskMixer.byTemperature(tasks, strategy, temperature);
        }
        return probabilities.isEmpty() ? TaskMixer.interleave(tasks, strategy)
                : TaskMixer.interleave(tasks, strategy, probabilities);
    }
}
