package dev.sparktune.report;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Another model's numbers on the same test rows, shown beside the fine-tuned model's: e.g. Spark MLlib's TF-IDF and
 * logistic regression with {@code accuracy}, {@code spam_precision}, {@code spam_recall}, {@code spam_f1}. Names
 * follow {@link EvalResults.Task#comparable()}, so the report pairs each with the fine-tuned model's number of the
 * same name.
 */
public record Baseline(String name, Map<String, Double> metrics) {
    public Baseline {
        metrics = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
    }
}
