package dev.sparktune.demo;

import dev.sparktune.report.EvalResults;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The demo's headline figures for one model, from one task of an {@code eval_results.json} as
 * {@link EvalResults} reads it: accuracy and the spam class's precision, recall and F1.
 */
public final class DemoMetrics {
    public static final String SPAM = "spam";
    private static final String[] HEADLINE = {"accuracy", SPAM + "_precision", SPAM + "_recall", SPAM + "_f1"};

    private DemoMetrics() {
    }

    /** {@code {"accuracy", "spam_precision", "spam_recall", "spam_f1"}} of one classification task. */
    public static Map<String, Double> headline(EvalResults.Task task) {
        Map<String, Double> comparable = task.comparable();
        Map<String, Double> figures = new LinkedHashMap<>();
        for (String name : HEADLINE) {
            Double value = comparable.get(name);
            if (value == null) {
                throw new IllegalStateException("the evaluation has no " + name + " (it has " + comparable.keySet()
                        + ")");
            }
            figures.put(name, value);
        }
        return figures;
    }

    /** The share of the most frequent true class in the evaluated rows: the accuracy of always guessing it. */
    public static double majorityShare(EvalResults.Task task) {
        if (task.confusion() == null) {
            throw new IllegalStateException("the evaluation has no confusion matrix: not a classification task");
        }
        long total = 0;
        long largest = 0;
        for (long[] row : task.confusion().matrix()) {
            long support = java.util.Arrays.stream(row).sum();
            total += support;
            largest = Math.max(largest, support);
        }
        return total == 0 ? Double.NaN : largest / (double) total;
    }
}
