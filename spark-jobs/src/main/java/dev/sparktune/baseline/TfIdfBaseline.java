package dev.sparktune.baseline;

import dev.sparktune.eval.TaskMetrics;
import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.feature.HashingTF;
import org.apache.spark.ml.feature.IDF;
import org.apache.spark.ml.feature.IndexToString;
import org.apache.spark.ml.feature.RegexTokenizer;
import org.apache.spark.ml.feature.StringIndexer;
import org.apache.spark.ml.feature.StringIndexerModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The classifier a Spark team would try before fine-tuning: Spark MLlib's words, hashed term frequencies, IDF and
 * logistic regression ({@code Tokenizer -> HashingTF -> IDF -> LogisticRegression}), fitted on one task's training
 * rows and scored on its held-out rows with the same metrics {@code sparktune eval} reports, so the two can be
 * compared row for row.
 */
public final class TfIdfBaseline {
    /** 2^18 hashed features, MLlib's default: few collisions for a vocabulary of e-mail size. */
    private static final int FEATURES = 1 << 18;
    private static final String WORDS = "baseline_words";
    private static final String TF = "baseline_tf";
    private static final String FEATURES_COL = "baseline_features";
    private static final String LABEL_INDEX = "baseline_label_index";
    private static final String PREDICTION_INDEX = "baseline_prediction_index";
    private static final String PREDICTION = "baseline_prediction";

    private TfIdfBaseline() {
    }

    /**
     * Fits on {@code train} and measures on {@code test}, both prepared classification rows ({@code text},
     * {@code label}) of one task.
     *
     * @return accuracy, macro-F1, scikit-learn's classification report and the confusion matrix, as
     *         {@link TaskMetrics#classification} writes them
     */
    public static Map<String, Object> fitAndTest(Dataset<Row> train, Dataset<Row> test) {
        // the labels are indexed for fitting only: a test row's label is compared as text, so one never seen in
        // training is a miss rather than an error, and the classifier has exactly the training labels as classes
        StringIndexerModel labels = new StringIndexer().setInputCol(PrepRows.LABEL).setOutputCol(LABEL_INDEX)
                .fit(train);
        PipelineStage[] stages = {
            new RegexTokenizer().setInputCol(PrepRows.TEXT).setOutputCol(WORDS).setPattern("\\W+"),
            new HashingTF().setInputCol(WORDS).setOutputCol(TF).setNumFeatures(FEATURES),
            new IDF().setInputCol(TF).setOutputCol(FEATURES_COL),
            new LogisticRegression().setFeaturesCol(FEATURES_COL).setLabelCol(LABEL_INDEX)
                    .setPredictionCol(PREDICTION_INDEX).setRawPredictionCol("baseline_raw")
                    .setProbabilityCol("baseline_probability").setMaxIter(100).setRegParam(1e-3),
            new IndexToString().setInputCol(PREDICTION_INDEX).setOutputCol(PREDICTION).setLabels(labels.labelsArray()[0]),
        };
        PipelineModel model = new Pipeline().setStages(stages)
                .fit(labels.transform(train.select(PrepRows.TEXT, PrepRows.LABEL)));
        List<Row> scored = model.transform(test.select(PrepRows.TEXT, PrepRows.LABEL))
                .select(PrepRows.LABEL, PREDICTION).collectAsList();
        List<String> references = new ArrayList<>(scored.size());
        List<String> predictions = new ArrayList<>(scored.size());
        for (Row row : scored) {
            references.add(row.getString(0));
            predictions.add(row.getString(1));
        }
        return TaskMetrics.classification(references, predictions, List.of("accuracy", "f1"));
    }
}
