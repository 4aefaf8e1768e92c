package dev.sparktune.config;

import java.util.List;
import java.util.Set;

/**
 * Section {@code eval}: how and how often the model is evaluated. Of {@code metrics}, accuracy and f1 apply to
 * classification tasks, perplexity to causal-LM tasks, and the generation metrics (bleu, chrf, rouge, exact_match) to
 * SFT tasks, whose completions are generated with the {@code generation} settings, by validation during training
 * (compared with the reply's tokens decoded) and by {@code sparktune eval} (compared with the reply's text).
 */
public record EvalConfig(int perDeviceEvalBatchSize, int evalSteps, List<String> metrics) {

    /** Metrics that compare generated text with the reference reply. */
    public static final Set<String> GENERATION_METRICS = Set.of("bleu", "chrf", "rouge", "exact_match");
    private static final List<String> METRICS = List.of("accuracy", "f1", "perplexity", "bleu", "chrf", "rouge",
            "exact_match");

    public EvalConfig {
        metrics = List.copyOf(metrics);
    }

    static EvalConfig read(Section s) {
        int batch = s.integer("per_device_eval_batch_size", 8, Range.atLeast(1));
        int steps = s.integer("eval_steps", 0, Range.atLeast(0));
        List<String> metrics = s.strings("metrics", List.of("accuracy", "f1", "perplexity"));
        for (String m : metrics) {
            s.require(METRICS.contains(m), "metrics", "'" + m + "' is not a metric; choose from "
                    + String.join(", ", METRICS));
        }
        return new EvalConfig(batch, steps, metrics);
    }

    /** Whether the SFT tasks' completions must be generated to compute the metrics. */
    public boolean needsGeneration() {
        return metrics.stream().anyMatch(GENERATION_METRICS::contains);
    }
}
