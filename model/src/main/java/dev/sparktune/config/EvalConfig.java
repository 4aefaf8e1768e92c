package dev.sparktune.config;

import java.util.List;
import java.util.Set;

/** Section {@code eval}: how and how often the model is evaluated. */
public record EvalConfig(int perDeviceEvalBatchSize, int evalSteps, List<String> metrics) {

    private static final Set<String> METRICS = Set.of("accuracy", "f1", "perplexity");
    private static final Set<String> PLANNED = Set.of("bleu", "rouge");

    static EvalConfig read(Section s) {
        int batch = s.integer("per_device_eval_batch_size", 8, Range.atLeast(1));
        int steps = s.integer("eval_steps", 0, Range.atLeast(0));
        List<String> metrics = s.strings("metrics", List.of("accuracy", "f1", "perplexity"));
        for (String m : metrics) {
            if (PLANNED.contains(m)) {
                s.require(false, "metrics", "'" + m + "' is not built yet (it needs generation during evaluation);"
                        + " choose from accuracy, f1, perplexity");
            } else {
                s.require(METRICS.contains(m), "metrics", "'" + m + "' is not a metric; choose from accuracy, f1,"
                        + " perplexity");
            }
        }
        return new EvalConfig(batch, steps, metrics);
    }
}
