package dev.sparktune.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Single-label classification metrics with scikit-learn's definitions ({@code sklearn/metrics/_classification.py}):
 * accuracy, the confusion matrix, and per-class precision, recall, F1 and support with their micro, macro and
 * weighted averages, as {@code classification_report(output_dict=True)} reports them.
 *
 * <p>Per class, precision is {@code tp / (tp + fp)}, recall {@code tp / (tp + fn)} and F1
 * {@code 2 tp / (2 tp + fp + fn)}; a ratio whose denominator is 0 takes the value {@code zeroDivision} (sklearn's
 * {@code zero_division}: 0 by default, or 1, or NaN, which the averages then skip). Micro averages pool the counts
 * of the labels reported; macro is the plain mean over labels, weighted the mean weighted by support.
 *
 * <p>Labels are strings. Without an explicit list they are the labels seen in either sequence, sorted as sklearn's
 * {@code unique_labels} sorts them: numerically when every label is a number, else by string order.
 */
public final class Classification {

    private static final Pattern NUMBER = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    private Classification() {
    }

    /** Precision, recall, F1 and support of one class or one average. */
    public record Scores(double precision, double recall, double f1, long support) {
    }

    /**
     * A classification report. {@code accuracy} is set (and {@code microAvg} null) when the labels cover every
     * label seen, as in sklearn, where the micro average then equals accuracy; otherwise {@code microAvg} is set.
     */
    public record Report(Map<String, Scores> perClass, Double accuracy, Scores microAvg, Scores macroAvg,
            Scores weightedAvg) {

        /** The keys and values of sklearn's {@code classification_report(..., output_dict=True)}. */
        public Map<String, Object> toDict() {
            Map<String, Object> dict = new LinkedHashMap<>();
            perClass.forEach((label, s) -> dict.put(label, entry(s)));
            if (accuracy != null) {
                dict.put("accuracy", accuracy);
            } else {
                dict.put("micro avg", entry(microAvg));
            }
            dict.put("macro avg", entry(macroAvg));
            dict.put("weighted avg", entry(weightedAvg));
            return dict;
        }

        private static Map<String, Object> entry(Scores s) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("precision", s.precision());
            entry.put("recall", s.recall());
            entry.put("f1-score", s.f1());
            entry.put("support", s.support());
            return entry;
        }
    }

    /** The fraction of positions where the prediction equals the truth ({@code accuracy_score}). */
    public static double accuracy(List<String> yTrue, List<String> yPred) {
        requireSameLength(yTrue, yPred);
        if (yTrue.isEmpty()) {
            throw new IllegalArgumentException("no samples");
        }
        long correct = 0;
        for (int i = 0; i < yTrue.size(); i++) {
            if (yTrue.get(i).equals(yPred.get(i))) {
                correct++;
            }
        }
        return (double) correct / yTrue.size();
    }

    /** The labels seen in either sequence, in sklearn's sorted order. */
    public static List<String> labels(List<String> yTrue, List<String> yPred) {
        TreeSet<String> seen = new TreeSet<>(yTrue);
        seen.addAll(yPred);
        List<String> labels = new ArrayList<>(seen);
        if (labels.stream().allMatch(Classification::isNumber)) {
            labels.sort(Comparator.comparingDouble(Double::parseDouble));
        }
        return labels;
    }

    /**
     * {@code confusion_matrix}: entry {@code [i][j]} counts samples whose truth is {@code labels[i]} and whose
     * prediction is {@code labels[j]}; samples with either label outside {@code labels} are left out.
     */
    public static long[][] confusionMatrix(List<String> yTrue, List<String> yPred, List<String> labels) {
        requireSameLength(yTrue, yPred);
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.putIfAbsent(labels.get(i), i);
        }
        long[][] matrix = new long[labels.size()][labels.size()];
        for (int k = 0; k < yTrue.size(); k++) {
            Integer t = index.get(yTrue.get(k));
            Integer p = index.get(yPred.get(k));
            if (t != null && p != null) {
                matrix[t][p]++;
            }
        }
        return matrix;
    }

    /** The report over the labels seen, with sklearn's default {@code zero_division} (0). */
    public static Report report(List<String> yTrue, List<String> yPred) {
        return report(yTrue, yPred, null, 0.0);
    }

    /**
     * The report over {@code labels} (null: the labels seen) in that order; {@code zeroDivision} is 0, 1 or NaN.
     */
    public static Report report(List<String> yTrue, List<String> yPred, List<String> labels, double zeroDivision) {
        requireSameLength(yTrue, yPred);
        if (!(zeroDivision == 0.0 || zeroDivision == 1.0 || Double.isNaN(zeroDivision))) {
            throw new IllegalArgumentException("zeroDivision must be 0, 1 or NaN, got " + zeroDivision);
        }
        List<String> seen = labels(yTrue, yPred);
        List<String> reported = labels == null ? seen : labels;
        // one-vs-rest counts per reported label (sklearn's multilabel_confusion_matrix)
        int k = reported.size();
        long[] tp = new long[k];
        long[] predicted = new long[k];
        long[] actual = new long[k];
        for (int c = 0; c < k; c++) {
            String label = reported.get(c);
            for (int i = 0; i < yTrue.size(); i++) {
                boolean isTrue = yTrue.get(i).equals(label);
                boolean isPred = yPred.get(i).equals(label);
                tp[c] += isTrue && isPred ? 1 : 0;
                actual[c] += isTrue ? 1 : 0;
                predicted[c] += isPred ? 1 : 0;
            }
        }
        Map<String, Scores> perClass = new LinkedHashMap<>();
        double[] precision = new double[k];
        double[] recall = new double[k];
        double[] f1 = new double[k];
        long totalSupport = 0;
        for (int c = 0; c < k; c++) {
            precision[c] = divide(tp[c], predicted[c], zeroDivision);
            recall[c] = divide(tp[c], actual[c], zeroDivision);
            f1[c] = divide(2 * tp[c], actual[c] + predicted[c], zeroDivision);
            perClass.put(reported.get(c), new Scores(precision[c], recall[c], f1[c], actual[c]));
            totalSupport += actual[c];
        }
        long tpSum = sum(tp);
        long predictedSum = sum(predicted);
        long actualSum = sum(actual);
        Scores micro = new Scores(divide(tpSum, predictedSum, zeroDivision), divide(tpSum, actualSum, zeroDivision),
                divide(2 * tpSum, actualSum + predictedSum, zeroDivision), totalSupport);
        Scores macro = new Scores(nanAverage(precision, null), nanAverage(recall, null), nanAverage(f1, null),
                totalSupport);
        Scores weighted = new Scores(nanAverage(precision, actual), nanAverage(recall, actual),
                nanAverage(f1, actual), totalSupport);
        boolean microIsAccuracy = labels == null || reported.containsAll(seen);
        return new Report(perClass, microIsAccuracy ? micro.precision() : null, microIsAccuracy ? null : micro,
                macro, weighted);
    }

    private static double divide(long numerator, long denominator, double zeroDivision) {
        return denominator == 0 ? zeroDivision : (double) numerator / denominator;
    }

    /**
     * sklearn's {@code _nanaverage}: the (weighted) mean of the values that are not NaN; NaN when none is; the
     * unweighted mean when all remaining weights are 0.
     */
    private static double nanAverage(double[] values, long[] weights) {
        double sum = 0;
        double weightSum = 0;
        double plainSum = 0;
        int count = 0;
        for (int i = 0; i < values.length; i++) {
            if (Double.isNaN(values[i])) {
                continue;
            }
            double w = weights == null ? 1 : weights[i];
            sum += w * values[i];
            weightSum += w;
            plainSum += values[i];
            count++;
        }
        if (count == 0) {
            return Double.NaN;
        }
        return weightSum == 0 ? plainSum / count : sum / weightSum;
    }

    private static long sum(long[] values) {
        long total = 0;
        for (long v : values) {
            total += v;
        }
        return total;
    }

    private static boolean isNumber(String s) {
        return NUMBER.matcher(s).matches();
    }

    private static void requireSameLength(List<String> yTrue, List<String> yPred) {
        if (yTrue.size() != yPred.size()) {
            throw new IllegalArgumentException("y_true has " + yTrue.size() + " samples, y_pred " + yPred.size());
        }
    }
}
