package dev.sparktune.evaluation;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.element_at;
import static org.apache.spark.sql.functions.lit;

import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.ml.FineTunedModel;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.TokenArrays;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.Completions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code sparktune eval --input} over tokenized Parquet, as {@code sparktune prep} writes it ({@code input_ids},
 * {@code labels}, {@code label}, {@code task=<name>} folders with their {@code _labels.json}). Tokenized rows carry no
 * id, so their predictions have none. A classification row's reference is its label's name; an SFT sample is split
 * as training's validation splits it ({@link Completions#pairs}: the prompt, then the reply, its last run of scored
 * tokens), and the reply's tokens are decoded on the driver, up to the first stop token.
 */
final class TokenizedEval {
    private static final String PROMPT_IDS = "prompt_ids";
    private static final String REPLY_IDS = "reply_ids";
    private static final StructType PAIRS = new StructType()
            .add(EvalJob.TASK, DataTypes.StringType)
            .add(PROMPT_IDS, DataTypes.createArrayType(DataTypes.LongType, false))
            .add(REPLY_IDS, DataTypes.createArrayType(DataTypes.LongType, false));
    static final StructType PREDICTIONS = new StructType()
            .add(PrepRows.ID, DataTypes.StringType)
            .add(PrepRows.DATASET, DataTypes.StringType)
            .add(EvalJob.TASK, DataTypes.StringType)
            .add(EvalJob.PREDICTION, DataTypes.StringType)
            .add(EvalJob.REFERENCE, DataTypes.StringType);

    private TokenizedEval() {
    }

    /** Whether {@code rows} are tokenized rather than prepared. */
    static boolean isTokenized(Dataset<Row> rows) {
        return List.of(rows.columns()).contains(TokenizedParquet.INPUT_IDS);
    }

    /** The rows with a task column: their {@code task=} folder's, else {@code all}. */
    static Dataset<Row> withTask(Dataset<Row> rows) {
        return List.of(rows.columns()).contains(EvalJob.TASK) ? rows : rows.withColumn(EvalJob.TASK, lit("all"));
    }

    /** Whether a task's rows are classification rows (they have class labels). */
    static boolean isClassification(Dataset<Row> taskRows) {
        return List.of(taskRows.columns()).contains(TokenizedParquet.LABEL)
                && !taskRows.where(col(TokenizedParquet.LABEL).isNotNull()).isEmpty();
    }

    /** Predicted and true class names; the true ones from the task folder's {@code _labels.json}. */
    static Dataset<Row> classify(FineTunedModel model, Dataset<Row> taskRows, String input, String task,
                                 Configuration conf) {
        String folder = TokenizedParquet.taskFolders(conf, input).get(task);
        List<String> names = (folder == null ? LabelsFile.read(conf, input) : LabelsFile.read(conf, folder))
                .map(LabelsFile::labels).orElseThrow(() -> new IllegalArgumentException("no " + LabelsFile.NAME
                        + " for task '" + task + "' in " + input + "; eval names the true classes from it"));
        Column reference = element_at(array(names.stream().map(n -> lit(n)).toArray(Column[]::new)),
                col(TokenizedParquet.LABEL).plus(1).cast(DataTypes.IntegerType));
        return model.setInputIdsCol(TokenizedParquet.INPUT_IDS)
                .transform(taskRows.select(EvalJob.TASK, TokenizedParquet.INPUT_IDS, TokenizedParquet.LABEL))
                .select(lit(null).cast(DataTypes.StringType).as(PrepRows.ID),
                        lit(null).cast(DataTypes.StringType).as(PrepRows.DATASET), col(EvalJob.TASK),
                        col(model.getPredictedLabelCol()).as(EvalJob.PREDICTION), reference.as(EvalJob.REFERENCE));
    }

    /** Completions of the samples' prompts beside their replies' text, the replies decoded here on the driver. */
    static Dataset<Row> complete(SparkSession spark, FineTunedModel model, Dataset<Row> taskRows) {
        List<String> columns = List.of(taskRows.columns());
        Dataset<Row> pairs = taskRows.select(col(EvalJob.TASK), col(TokenizedParquet.INPUT_IDS),
                        columns.contains(TokenizedParquet.LABELS) ? col(TokenizedParquet.LABELS)
                                : lit(null).cast(DataTypes.createArrayType(DataTypes.LongType)),
                        columns.contains(TokenizedParquet.SEGMENT_IDS) ? col(TokenizedParquet.SEGMENT_IDS)
                                : lit(null).cast(DataTypes.createArrayType(DataTypes.LongType)))
                .flatMap(new SplitPairs(), Encoders.row(PAIRS));
        List<Row> completed = model.setInputIdsCol(PROMPT_IDS).transform(pairs)
                .select(EvalJob.TASK, model.getGeneratedTextCol(), REPLY_IDS).collectAsList();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<Row> out = new ArrayList<>();
        try (ModelFolderCache.Lease copy = ModelFolderCache.jvm().acquire(conf, model.getModelPath());
             Tokenizer tokenizer = Tokenizer.load(copy.folder())) {
            Set<Long> stops = StopTokens.of(tokenizer, copy.folder());
            for (Row r : completed) {
                long[] reply = Completions.untilStop(TokenArrays.longs(r, 2), stops);
                out.add(RowFactory.create(null, null, r.getString(0), r.getString(1), tokenizer.decode(reply, true)));
            }
        }
        return spark.createDataFrame(out, PREDICTIONS);
    }

    /** (task, input_ids, labels, segment_ids) to one (task, prompt_ids, reply_ids) row per SFT sample. */
    private static final class SplitPairs implements FlatMapFunction<Row, Row> {
        private static final long serialVersionUID = 1L;

        @Override
        public Iterator<Row> call(Row row) {
            TokenizedRow tokens = new TokenizedRow(TokenArrays.longs(row, 1), TokenArrays.longs(row, 2),
                    TokenArrays.longs(row, 3), null, null);
            List<Row> out = new ArrayList<>();
            for (Completions.Pair pair : Completions.pairs(tokens)) {
                out.add(new GenericRowWithSchema(new Object[] {row.getString(0), TokenArrays.seq(pair.prompt()),
                    TokenArrays.seq(pair.reply())},
                        PAIRS));
            }
            return out.iterator();
        }
    }
}
