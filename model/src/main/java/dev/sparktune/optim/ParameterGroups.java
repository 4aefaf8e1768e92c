package dev.sparktune.optim;

import dev.sparktune.config.TrainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.regex.Pattern;

/**
 * Per-tensor learning-rate multipliers and weight decay, PyTorch's parameter groups expressed
 * as rules over tensor names. Each rule matches names by a regular expression (found anywhere
 * in the name) and sets a multiplier, a weight decay, or both; for each setting the last
 * matching rule that sets it wins. Unmatched tensors get multiplier 1 and {@code weightDecay}.
 *
 * @param weightDecay the default weight decay
 * @param rules       in order of precedence, lowest first
 */
public record ParameterGroups(double weightDecay, List<Rule> rules) {

    /** Hugging Face Trainer's names without weight decay: biases and normalisation weights. */
    public static final Pattern NO_DECAY = Pattern.compile("\\.bias$|norm", Pattern.CASE_INSENSITIVE);

    /** LoRA's B matrices, which LoRA+ trains faster. */
    public static final Pattern LORA_B = Pattern.compile("lora_B\\.weight$");

    /**
     * @param names       the tensors this rule applies to
     * @param lrScale     multiplier of the scheduled learning rate, if this rule sets one
     * @param weightDecay weight decay, if this rule sets one
     */
    public record Rule(Pattern names, OptionalDouble lrScale, OptionalDouble weightDecay) {
        public boolean matches(String name) {
            return names.matcher(name).find();
        }

        @Override
        public String toString() {
            return "/" + names + "/" + (lrScale.isPresent() ? " lr x" + lrScale.getAsDouble() : "")
                    + (weightDecay.isPresent() ? " weight_decay " + weightDecay.getAsDouble() : "");
        }
    }

    /** What one tensor gets. */
    public record Settings(double lrScale, double weightDecay) {
    }

    public ParameterGroups {
        requireWeightDecay(weightDecay);
        rules = List.copyOf(rules);
    }

    /** Every tensor alike. */
    public static ParameterGroups uniform(double weightDecay) {
        return new ParameterGroups(weightDecay, List.of());
    }

    /** {@code weightDecay} except on biases and normalisation weights, as Hugging Face's Trainer groups them. */
    public static ParameterGroups huggingFace(double weightDecay) {
        return uniform(weightDecay).withWeightDecay(NO_DECAY, 0.0);
    }

    /** Task heads ({@code classifier}, {@code classifier_<task>}), which {@code head_learning_rate} sets apart. */
    public static final Pattern TASK_HEADS = Pattern.compile("^classifier(_\\w+)?\\.");

    /**
     * The groups a job's {@code train} section implies: {@link #huggingFace} with its {@code weight_decay},
     * LoRA+ when {@code loraplus_lr_ratio} is set, and the heads' own {@code head_learning_rate} when set.
     */
    public static ParameterGroups from(TrainConfig c) {
        ParameterGroups groups = huggingFace(c.weightDecay());
        if (c.loraplusLrRatio() > 0) {
            groups = groups.withLoraPlus(c.loraplusLrRatio());
        }
        if (c.headLearningRate() > 0) {
            groups = groups.withLearningRate(TASK_HEADS, c.headLearningRate(), c.learningRate());
        }
        return groups;
    }

    /** Adds a rule multiplying the learning rate of matching tensors by {@code scale}. */
    public ParameterGroups withLrScale(Pattern names, double scale) {
        if (!(scale >= 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException("learning-rate multiplier for /" + names + "/ must be finite and >= 0, got " + scale);
        }
        return with(new Rule(names, OptionalDouble.of(scale), OptionalDouble.empty()));
    }

    /** Adds a rule giving matching tensors their own peak learning rate, as a multiplier of {@code peak}. */
    public ParameterGroups withLearningRate(Pattern names, double lr, double peak) {
        return withLrScale(names, lr / peak);
    }

    /** Adds a rule setting the weight decay of matching tensors. */
    public ParameterGroups withWeightDecay(Pattern names, double weightDecay) {
        requireWeightDecay(weightDecay);
        return with(new Rule(names, OptionalDouble.empty(), OptionalDouble.of(weightDecay)));
    }

    /**
     * LoRA+ (Hayou, Ghosh &amp; Yu, 2024): B trains at {@code ratio} times A's learning rate
     * (they suggest 16; DoRA's magnitude and other tensors keep the base rate).
     */
    public ParameterGroups withLoraPlus(double ratio) {
        return withLrScale(LORA_B, ratio);
    }

    public Settings settings(String name) {
        double scale = 1.0;
        double decay = weightDecay;
        for (Rule rule : rules) {
            if (rule.matches(name)) {
                scale = rule.lrScale().orElse(scale);
                decay = rule.weightDecay().orElse(decay);
            }
        }
        return new Settings(scale, decay);
    }

    private ParameterGroups with(Rule rule) {
        List<Rule> more = new ArrayList<>(rules);
        more.add(rule);
        return new ParameterGroups(weightDecay, more);
    }

    private static void requireWeightDecay(double weightDecay) {
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight_decay must be finite and >= 0, got " + weightDecay);
        }
    }
}
