package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.eval.Classification.Report;
import dev.sparktune.eval.Classification.Scores;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Expected values are scikit-learn's own published outputs: the doctest examples in the docstrings of
 * {@code sklearn/metrics/_classification.py} (github.com/scikit-learn/scikit-learn), each cited by function.
 * A doctest value printed as {@code 0.22...} is checked as a prefix of the printed double; a report printed with
 * two digits is checked at two digits.
 */
class ClassificationMetricsTest {

    private static List<String> labels(Object... values) {
        return java.util.Arrays.stream(values).map(String::valueOf).toList();
    }

    private static void assertPrinted(String doctest, double value) {
        String prefix = doctest.replace("...", "");
        assertTrue(String.valueOf(value).startsWith(prefix), () -> "expected " + doctest + ", got " + value);
    }

    /** A row of classification_report's text output: precision, recall, f1-score at two digits, and support. */
    private static void assertRow(String p, String r, String f, long support, Scores scores) {
        assertEquals(p + " " + r + " " + f + " " + support, String.format(Locale.ROOT, "%.2f %.2f %.2f %d",
                scores.precision(), scores.recall(), scores.f1(), scores.support()));
    }

    @Test
    void accuracyScoreDocstring() {
        // accuracy_score docstring: y_pred = [0, 2, 1, 3], y_true = [0, 1, 2, 3] -> 0.5
        assertEquals(0.5, Classification.accuracy(labels(0, 1, 2, 3), labels(0, 2, 1, 3)));
    }

    @Test
    void confusionMatrixDocstring() {
        long[][] expected = {{2, 0, 0}, {0, 0, 1}, {1, 0, 2}};
        // confusion_matrix docstring: y_true = [2, 0, 2, 2, 0, 1], y_pred = [0, 0, 2, 2, 0, 2]
        List<String> yTrue = labels(2, 0, 2, 2, 0, 1);
        List<String> yPred = labels(0, 0, 2, 2, 0, 2);
        assertArrayEquals(expected, Classification.confusionMatrix(yTrue, yPred, Classification.labels(yTrue, yPred)));
        // confusion_matrix docstring: the same with "ant", "bird", "cat" and labels=["ant", "bird", "cat"]
        assertArrayEquals(expected, Classification.confusionMatrix(List.of("cat", "ant", "cat", "cat", "ant", "bird"),
                List.of("ant", "ant", "cat", "cat", "ant", "cat"), List.of("ant", "bird", "cat")));
        // confusion_matrix docstring: tn, fp, fn, tp = confusion_matrix([0, 1, 0, 1], [1, 1, 1, 0]).ravel() -> (0, 2, 1, 1)
        long[][] binary = Classification.confusionMatrix(labels(0, 1, 0, 1), labels(1, 1, 1, 0), labels(0, 1));
        assertArrayEquals(new long[][] {{0, 2}, {1, 1}}, binary);
    }

    @Test
    void classificationReportDocstringWithTargetNames() {
        // classification_report docstring: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
        Report report = Classification.report(labels(0, 1, 2, 2, 2), labels(0, 0, 2, 2, 1));
        assertEquals(List.of("0", "1", "2"), List.copyOf(report.perClass().keySet()));
        assertRow("0.50", "1.00", "0.67", 1, report.perClass().get("0"));   // class 0
        assertRow("0.00", "0.00", "0.00", 1, report.perClass().get("1"));   // class 1
        assertRow("1.00", "0.67", "0.80", 3, report.perClass().get("2"));   // class 2
        assertEquals("0.60", String.format(Locale.ROOT, "%.2f", report.accuracy())); // accuracy 0.60, support 5
        assertNull(report.microAvg());
        assertRow("0.50", "0.56", "0.49", 5, report.macroAvg());            // macro avg
        assertRow("0.70", "0.60", "0.61", 5, report.weightedAvg());         // weighted avg
        assertEquals(List.of("0", "1", "2", "accuracy", "macro avg", "weighted avg"),
                List.copyOf(report.toDict().keySet()));
    }

    @Test
    void classificationReportDocstringWithLabelsAbsentFromTheData() {
        // classification_report docstring: y_pred = [1, 1, 0], y_true = [1, 1, 1], labels=[1, 2, 3]
        Report report = Classification.report(labels(1, 1, 1), labels(1, 1, 0), labels(1, 2, 3), 0.0);
        assertRow("1.00", "0.67", "0.80", 3, report.perClass().get("1"));
        assertRow("0.00", "0.00", "0.00", 0, report.perClass().get("2"));
        assertRow("0.00", "0.00", "0.00", 0, report.perClass().get("3"));
        assertNull(report.accuracy());                                       // label 0 is not reported: micro avg row
        assertRow("1.00", "0.67", "0.80", 3, report.microAvg());
        assertRow("0.33", "0.22", "0.27", 3, report.macroAvg());
        assertRow("1.00", "0.67", "0.80", 3, report.weightedAvg());
        assertEquals(List.of("1", "2", "3", "micro avg", "macro avg", "weighted avg"),
                List.copyOf(report.toDict().keySet()));
    }

    @Test
    void precisionRecallFscoreSupportDocstring() {
        List<String> yTrue = List.of("cat", "dog", "pig", "cat", "dog", "pig");
        List<String> yPred = List.of("cat", "pig", "dog", "cat", "cat", "dog");
        Report report = Classification.report(yTrue, yPred);
        // precision_recall_fscore_support docstring, average='macro' -> (0.22..., 0.33..., 0.26..., None)
        assertPrinted("0.22...", report.macroAvg().precision());
        assertPrinted("0.33...", report.macroAvg().recall());
        assertPrinted("0.26...", report.macroAvg().f1());
        // average='micro' -> (0.33..., 0.33..., 0.33..., None): here the accuracy
        assertPrinted("0.33...", report.accuracy());
        // average='weighted' -> (0.22..., 0.33..., 0.26..., None)
        assertPrinted("0.22...", report.weightedAvg().precision());
        assertPrinted("0.33...", report.weightedAvg().recall());
        assertPrinted("0.26...", report.weightedAvg().f1());
        // average=None, labels=['pig', 'dog', 'cat'] -> precision [0., 0., 0.66...], recall [0., 0., 1.],
        // f-score [0., 0., 0.8], support [2, 2, 2]
        Report ordered = Classification.report(yTrue, yPred, List.of("pig", "dog", "cat"), 0.0);
        assertEquals(List.of("pig", "dog", "cat"), List.copyOf(ordered.perClass().keySet()));
        assertEquals(new Scores(0, 0, 0, 2), ordered.perClass().get("pig"));
        assertEquals(new Scores(0, 0, 0, 2), ordered.perClass().get("dog"));
        assertPrinted("0.66...", ordered.perClass().get("cat").precision());
        assertEquals(1.0, ordered.perClass().get("cat").recall());
        assertEquals(0.8, ordered.perClass().get("cat").f1(), 1e-15);
        assertEquals(2, ordered.perClass().get("cat").support());
    }

    @Test
    void f1ScoreDocstring() {
        // f1_score docstring: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
        Report report = Classification.report(labels(0, 1, 2, 0, 1, 2), labels(0, 2, 1, 0, 0, 1));
        assertPrinted("0.26...", report.macroAvg().f1());       // average='macro'
        assertPrinted("0.33...", report.accuracy());            // average='micro'
        assertPrinted("0.26...", report.weightedAvg().f1());    // average='weighted'
        // average=None -> array([0.8, 0. , 0. ])
        assertEquals(0.8, report.perClass().get("0").f1(), 1e-15);
        assertEquals(0.0, report.perClass().get("1").f1());
        assertEquals(0.0, report.perClass().get("2").f1());
    }

    @Test
    void f1ScoreDocstringZeroDivision() {
        // f1_score docstring, binary: y_true = y_pred = [0, 0, 0, 0, 0, 0]; pos_label=1 reports label 1 alone,
        // which has no true and no predicted sample: 0.0 by default, 1.0 / nan with zero_division=1.0 / np.nan
        List<String> zeros = labels(0, 0, 0, 0, 0, 0);
        assertEquals(0.0, Classification.report(zeros, zeros, labels(1), 0.0).perClass().get("1").f1());
        assertEquals(1.0, Classification.report(zeros, zeros, labels(1), 1.0).perClass().get("1").f1());
        assertTrue(Double.isNaN(Classification.report(zeros, zeros, labels(1), Double.NaN).perClass().get("1").f1()));
    }

    @Test
    void numericLabelsSortAsNumbersOthersAsStrings() {
        // sklearn's unique_labels returns sorted labels: numbers numerically, strings in string order
        assertEquals(List.of("2", "10"), Classification.labels(labels(10, 2), labels(2, 2)));
        assertEquals(List.of("10", "2", "a"), Classification.labels(List.of("10", "2"), List.of("a", "2")));
    }
}
