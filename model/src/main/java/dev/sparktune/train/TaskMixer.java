package dev.sparktune.train;

import dev.sparktune.config.DataConfig;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * How several tasks share one training run: the strategy, and for interleaving the probability of
 * drawing each task (none: strict round robin, as {@code interleave_datasets} does without
 * probabilities). {@link #plan} turns it into the draw sequence of one epoch.
 */
public final class TaskMixer {
    private final List<Task> tasks;
    private final MixStrategy strategy;
    private final double[] probabilities;

    private TaskMixer(List<Task> tasks, MixStrategy strategy, double[] probabilities) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("no tasks to mix");
        }
        this.tasks = List.copyOf(tasks);
        this.strategy = strategy;
        this.probabilities = probabilities;
        if (probabilities != null && strategy == MixStrategy.INTERLEAVE_OVER) {
            for (int i = 0; i < probabilities.length; i++) {
                if (probabilities[i] == 0) {
                    throw new IllegalArgumentException("task '" + tasks.get(i).name() + "' has probability 0, so "
                            + "interleave_over would never use it up and the epoch would not end; give it a "
                            + "probability above 0 or use interleave_under");
                }
            }
        }
    }

    /** Every row of every task once per epoch, shuffled together. */
    public static TaskMixer concat(List<Task> tasks) {
        return new TaskMixer(tasks, MixStrategy.CONCAT, null);
    }

    /** Round robin over the tasks, one row of each in turn, in whole rounds. */
    public static TaskMixer interleave(List<Task> tasks, MixStrategy strategy) {
        return new TaskMixer(tasks, interleaving(strategy), null);
    }

    /** Each draw picks task i with probability {@code probabilities.get(i)} (they must sum to 1). */
    public static TaskMixer interleave(List<Task> tasks, MixStrategy strategy, List<Double> probabilities) {
        if (probabilities.size() != tasks.size()) {
            throw new IllegalArgumentException("interleave_probs needs one probability per task: " + tasks.size()
                    + " tasks, " + probabilities.size() + " probabilities");
        }
        double sum = 0;
        for (int i = 0; i < probabilities.size(); i++) {
            double p = probabilities.get(i);
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("probability of task '" + tasks.get(i).name() + "' must be in [0, 1], got " + p);
            }
            sum += p;
        }
        if (Math.abs(sum - 1) > 1e-6) {
            throw new IllegalArgumentException("interleave_probs must sum to 1, sums to " + sum);
        }
        double total = sum;
        return new TaskMixer(tasks, interleaving(strategy), probabilities.stream().mapToDouble(p -> p / total).toArray());
    }

    /**
     * Temperature sampling by size, p_i ∝ n_i^(1/T) (as in multilingual BERT / XLM-R and T5's
     * mixing): T = 1 is proportional to size, larger T flattens towards uniform, which keeps small
     * tasks from being drowned out by large ones.
     */
    public static TaskMixer byTemperature(List<Task> tasks, MixStrategy strategy, double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a positive number, got " + temperature);
        }
        // In log space: n^(1/T) overflows nothing, and max-subtraction keeps exp() in range.
        double[] logits = tasks.stream().mapToDouble(t -> Math.log(t.rows()) / temperature).toArray();
        double max = Arrays.stream(logits).max().orElse(0);
        double[] weights = Arrays.stream(logits).map(l -> Math.exp(l - max)).toArray();
        double sum = Arrays.stream(weights).sum();
        return new TaskMixer(tasks, interleaving(strategy), Arrays.stream(weights).map(w -> w / sum).toArray());
    }

    /** The job config's {@code mix_strategy}, {@code interleave_probs} and {@code mix_temperature}. */
    public static TaskMixer fromConfig(DataConfig data, List<Task> tasks) {
        return TaskMix.fromConfig(data).mixer(tasks);
    }

    private static MixStrategy interleaving(MixStrategy strategy) {
        if (strategy == MixStrategy.CONCAT) {
            throw new IllegalArgumentException("concat takes every row once and draws no tasks; "
                    + "probabilities need interleave_under or interleave_over");
        }
        return strategy;
    }

    public List<Task> tasks() {
        return tasks;
    }

    public MixStrategy strategy() {
        return strategy;
    }

    /** The probability of each task per draw; empty for concat and round robin. */
    public Optional<double[]> probabilities() {
        return Optional.ofNullable(probabilities).map(double[]::clone);
    }

    /**
     * The draws of epoch {@code epoch}: a function of {@code (seed, epoch)} only, so every rank and
     * every resumed run sees the same sequence, and each epoch gets a fresh one.
     */
    public EpochPlan plan(long seed, long epoch) {
        return new EpochPlan(this, seed, epoch, true);
    }

    /**
     * As {@link #plan}, but drawing tasks only: for callers that take each task's rows from its own stream and
     * need only the task sequence, which is the same as {@link #plan}'s.
     */
    public EpochPlan taskPlan(long seed, long epoch) {
        return new EpochPlan(this, seed, epoch, false);
    }

    int[] sizes() {
        return tasks.stream().mapToInt(Task::rows).toArray();
    }

    double[] rawProbabilities() {
        return probabilities;
    }
}
