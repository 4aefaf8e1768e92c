package dev.sparktune.optim;

import dev.sparktune.config.TrainConfig;
import java.util.List;

/**
 * A learning-rate schedule as Hugging Face {@code transformers.get_scheduler} builds it: a
 * multiplier of the peak learning rate for each optimizer step, linear warmup from 0, then
 * {@code type}'s decay. {@code constant} with a warmup is HF's {@code constant_with_warmup}
 * (our config has one name for both).
 *
 * @param type        {@code constant}, {@code linear}, {@code cosine} or {@code cosine_with_min_lr}
 * @param totalSteps  optimizer steps in the run (HF's {@code num_training_steps})
 * @param warmupSteps steps of linear warmup
 * @param minLrRate   floor of {@code cosine_with_min_lr} as a fraction of the peak
 */
public record LrSchedule(String type, long totalSteps, long warmupSteps, double minLrRate) {

    public static final List<String> TYPES = List.of("constant", "linear", "cosine", "cosine_with_min_lr");

    public LrSchedule {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("lr_scheduler_type '" + type + "' is not one of " + TYPES);
        }
        if (totalSteps < 1) {
            throw new IllegalArgumentException("a schedule needs at least one step, got " + totalSteps);
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmupSteps);
        }
        if (!(minLrRate >= 0 && minLrRate <= 1)) {
            throw new IllegalArgumentException("min_lr_rate must be in [0, 1], got " + minLrRate);
        }
    }

    /** The schedule a job's {@code train} section asks for, over a run of {@code totalSteps} optimizer steps. */
    public static LrSchedule from(TrainConfig c, long totalSteps) {
        return new LrSchedule(c.lrSchedulerType(), totalSteps, warmupSteps(totalSteps, c.warmupSteps(), c.warmupRatio()),
                c.minLrRate());
    }

    /**
     * HF {@code TrainingArguments.get_warmup_steps}: {@code warmup_steps} when set, else
     * {@code ceil(total * warmup_ratio)}, rounding included (0.07 of 100 steps is 8, as in HF).
     */
    public static long warmupSteps(long totalSteps, long warmupSteps, double warmupRatio) {
        return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(totalSteps * warmupRatio);
    }

    /**
     * The multiplier for the update that follows {@code step} completed updates (HF's
     * {@code LambdaLR} {@code current_step}: the first update uses step 0, so with warmup it
     * moves nothing). Past {@code totalSteps} the formulas run on as HF's do.
     */
    public double factor(long step) {
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        double remaining = Math.max(1, totalSteps - warmupSteps);
        double progress = (step - warmupSteps) / remaining;
        return switch (type) {
            case "constant" -> 1.0;
            case "linear" -> Math.max(0.0, (totalSteps - step) / remaining);
            case "cosine" -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            case "cosine_with_min_lr" -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)) * (1 - minLrRate) + minLrRate);
            default -> throw new IllegalStateException(type);
        };
    }

    /** {@code peak} times {@link #factor}. */
    public double learningRate(double peak, long step) {
        return peak * factor(step);
    }
}
