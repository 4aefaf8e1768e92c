package dev.sparktune.demo;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The demo's headline figures for one model, taken from the metrics {@code sparktune eval} writes per task
 * ({@link dev.sparktune.eval.TaskMetrics#classification}): accuracy and the spam class's precision, recall and F1.
 */
public final class DemoMetrics {
    public static final String SPAM = "spam";

    private DemoMetrics() {
    }

    /** {@code {"accuracy", "spam_precision", "spam_recall", "spam_f1"}} of one task's classification metrics. */
    public static Map<String, Double> headline(Map<String, Object> taskMetrics) {
        Map<?, ?> report = (Map<?, ?>) require(taskMetrics, "classification_report");
        Map<?, ?> spam = (Map<?, ?>) require(report, SPAM);
        Map<String, Double> figures = new LinkedHashMap<>();
        figures.put("accuracy", number(require(report, "accuracy")));
        figures.put("spam_precision", number(require(spam, "precision")));
        figures.put("spam_recall", number(require(spam, "recall")));
        figures.put("spam_f1", number(require(spam, "f1-score")));
        return figures;
    }

    /** The share of the most frequent true class in the evaluated rows: the accuracy of always guessing it. */
    public static double majorityShare(Map<String, Object> taskMetrics) {
        Map<?, ?> report = (Map<?, ?>) require(taskMetrics, "classification_report");
        long total = 0;
        long largest = 0;
        for (Map.Entry<?, ?> entry : report.entrySet()) {
            if (entry.getValue() instanceof Map<?, ?> scores && scores.containsKey("support")
                    && !entry.getKey().toString().endsWith(" avg")) {
                long support = ((Number) scores.get("support")).longValue();
                total += support;
                largest = Math.max(largest, support);
            }
        }
        return total == 0 ? Double.NaN : largest / (double) total;
    }

    private static Object require(Map<?, ?> map, String key) {
        Object value = map.get(key);
        if (value == null) {
            throw new IllegalStateException("the evaluation's metrics hold no '" + key + "' (keys: " + map.keySet()
                    + ")");
        }
        return value;
    }

    private static double number(Object value) {
        return ((Number) value).doubleValue();
    }
}
