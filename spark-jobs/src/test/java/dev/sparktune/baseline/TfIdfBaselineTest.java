package dev.sparktune.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** MLlib's TF-IDF logistic regression on Spark {@code local[1]}, on texts whose class shows in their words. */
class TfIdfBaselineTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.local(1);

    private static final StructType ROWS = new StructType()
            .add(PrepRows.TEXT, DataTypes.StringType).add(PrepRows.LABEL, DataTypes.StringType);
    private static final List<String> SPAM_WORDS = List.of("cheap", "offer", "winner", "click", "free", "prize");
    private static final List<String> HAM_WORDS = List.of("meeting", "agenda", "patch", "review", "lunch", "build");
    private static final List<String> SHARED = List.of("the", "a", "today", "please", "you", "we");

    @Test
    void separableClassesAreAllRightAndTheReportHasScikitLearnsShape() {
        Random random = new Random(3);
        Map<String, Object> metrics = TfIdfBaseline.fitAndTest(rows(random, 40, 40, 0), rows(random, 10, 6, 0));

        assertEquals(1.0, (Double) metrics.get("accuracy"));
        Map<?, ?> report = (Map<?, ?>) metrics.get("classification_report");
        assertEquals(6L, ((Map<?, ?>) report.get("spam")).get("support"));
        assertEquals(10L, ((Map<?, ?>) report.get("ham")).get("support"));
        Map<?, ?> confusion = (Map<?, ?>) metrics.get("confusion_matrix");
        assertEquals(List.of("ham", "spam"), confusion.get("labels"));
    }

    @Test
    void aTestLabelNeverSeenInTrainingIsAMissNotAnError() {
        Random random = new Random(4);
        Map<String, Object> metrics = TfIdfBaseline.fitAndTest(rows(random, 30, 30, 0), rows(random, 5, 5, 2));

        assertEquals(10.0 / 12, (Double) metrics.get("accuracy"), 1e-12);
        Map<?, ?> report = (Map<?, ?>) metrics.get("classification_report");
        assertEquals(0.0, ((Map<?, ?>) report.get("phishing")).get("recall"));
        Map<?, ?> confusion = (Map<?, ?>) metrics.get("confusion_matrix");
        assertEquals(List.of("ham", "phishing", "spam"), confusion.get("labels"));
        long[][] matrix = (long[][]) confusion.get("matrix");
        for (long[] row : matrix) {
            assertEquals(0, row[1], "the classifier knows only the training labels, never predicts phishing");
        }
    }

    /** {@code ham} and {@code spam} texts of eight words, {@code phishing} ones made of spam words. */
    private static Dataset<Row> rows(Random random, int ham, int spam, int phishing) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ham + spam + phishing; i++) {
            List<String> vocabulary = i < ham ? HAM_WORDS : SPAM_WORDS;
            StringBuilder text = new StringBuilder();
            for (int w = 0; w < 8; w++) {
                List<String> from = w % 2 == 0 ? vocabulary : SHARED;
                text.append(from.get(random.nextInt(from.size()))).append(' ');
            }
            String label = i < ham ? "ham" : i < ham + spam ? "spam" : "phishing";
            rows.add(RowFactory.create(text.toString().strip(), label));
        }
        return SPARK.session().createDataFrame(rows, ROWS);
    }
}
