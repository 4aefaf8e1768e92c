package dev.sparktune.ml;

import dev.sparktune.arch.ModelDirectory;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;

/** What a model folder scores, decided by its {@code config.json}'s model_type. */
enum ModelKind {
    /**
     * A BERT-family encoder with a sequence-classification head: {@code prediction}, {@code probability},
     * {@code predictedLabel}.
     */
    CLASSIFIER,
    /**
     * A Llama-family decoder: per-row {@code loss} and {@code perplexity} of its tokens, and with generation on
     * ({@code maxNewTokens > 0}) {@code generatedText}.
     */
    CAUSAL_LM;

    static ModelKind of(ModelDirectory dir) {
        return dir.modelType().equals("bert") ? CLASSIFIER : CAUSAL_LM;
    }

    /** The appended output columns, named as the model's params say. */
    List<StructField> outputFields(FineTunedModel m) {
        return this == CLASSIFIER
                ? List.of(DataTypes.createStructField(m.getPredictionCol(), DataTypes.DoubleType, true),
                        DataTypes.createStructField(m.getProbabilityCol(), SQLDataTypes.VectorType(), true),
                        DataTypes.createStructField(m.getPredictedLabelCol(), DataTypes.StringType, true))
                : m.getMaxNewTokens() == 0 ? causalLm(m)
                : Stream.concat(causalLm(m).stream(),
                        Stream.of(DataTypes.createStructField(m.getGeneratedTextCol(), DataTypes.StringType, true)))
                        .toList();
    }

    private static List<StructField> causalLm(FineTunedModel m) {
        return List.of(DataTypes.createStructField(m.getLossCol(), DataTypes.DoubleType, true),
                DataTypes.createStructField(m.getPerplexityCol(), DataTypes.DoubleType, true));
    }

    /** How many columns {@link #outputFields} appends. */
    int outputCount(boolean generates) {
        return this == CLASSIFIER ? 3 : generates ? 3 : 2;
    }
}
