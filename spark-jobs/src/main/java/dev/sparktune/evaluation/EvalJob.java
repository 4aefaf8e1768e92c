package dev.sparktune.evaluation;

import static org.apache.spark.sql.functions.col;

import com.google.gson.GsonBuilder;
import dev.sparktune.config.JobConfig;
import dev.sparktune.eval.TaskMetrics;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.io.FolderCommit;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.ml.FineTunedModel;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.prep.PreparedOutput;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.training.TrainedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sparktune eval}: batch inference on Spark with the model {@code sparktune train} left, over prepared rows
 * (by default the test split of {@code data.prepared_path} when {@code data.test_size} is above 0, else its
 * validation split; {@link Request#split} chooses), and each task's {@code eval.metrics}.
 * Classification rows are scored (their text cut at {@code data.cutoff_len} and {@code data.cutoff_tail_len}, as the
 * tokenize stage cuts it); SFT rows are completed with the {@code generation} settings, the prompt being the
 * conversation up to its last assistant reply, which is the reference. Writes {@code predictions/} (Parquet: id,
 * dataset, task, prediction, reference) and {@code eval_results.json} (per task: rows and metrics, like Hugging
 * Face's {@code all_results.json}) to the output folder. Tokenized Parquet given as input is evaluated by {@link TokenizedEval}. Perplexity is the exp of the
 * token-weighted cross-entropy over tokenized rows: the task's tokenized rows of the evaluated split
 * ({@code <tokenized_path>/_validation} or {@code /_test}) when a split of {@code data.prepared_path} is evaluated,
 * or the tokenized input's.
 */
public final class EvalJob {
    public static final String PREDICTIONS = "predictions";
    public static final String RESULTS_FILE = "eval_results.json";
    public static final String PREDICTION = "prediction";
    public static final String REFERENCE = "reference";
    static final String TASK = TokenizedParquet.TASK;
    static final String PROMPT = "prompt_messages";

    private enum Kind { CLASSIFICATION, CONVERSATION, TEXT }

    /**
     * What to evaluate.
     *
     * @param input    prepared or tokenized Parquet to evaluate, all its rows; null for a split of
     *                 {@code data.prepared_path}
     * @param datasets only these datasets' rows; empty for all
     * @param output   where predictions and results go; null for {@code <train.output_dir>/eval}
     * @param split    the split of {@code data.prepared_path} to evaluate ({@code --split}: {@code validation} or
     *                 {@code test}); null for the default, test when {@code data.test_size} is above 0, else
     *                 validation
     */
    public record Request(String input, List<String> datasets, String output, String split) {
        public Request {
            datasets = List.copyOf(datasets);
            if (split != null && !split.equals(PrepRows.SPLIT_VALIDATION) && !split.equals(PrepRows.SPLIT_TEST)) {
                throw new IllegalArgumentException("--split is '" + split + "': use " + PrepRows.SPLIT_VALIDATION
                        + " or " + PrepRows.SPLIT_TEST);
            }
            if (split != null && input != null) {
                throw new IllegalArgumentException("--split chooses a split of data.prepared_path, and --input"
                        + " evaluates every row of its own Parquet: give one of them");
            }
        }

        /** The split of {@code data.prepared_path} evaluated, or null when {@link #input} is. */
        public String evaluatedSplit(JobConfig job) {
            if (input != null) {
                return null;
            }
            return split != null ? split
                    : job.data().testSize() > 0 ? PrepRows.SPLIT_TEST : PrepRows.SPLIT_VALIDATION;
        }
    }

    /** What was written: the results file and, per task, its metrics as written there. */
    public record Outcome(String resultsFile, Map<String, Map<String, Object>> tasks) {
    }

    private EvalJob() {
    }

    public static Outcome run(SparkSession spark, JobConfig job, Request request) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        String baseModel = HadoopFiles.qualify(job.model().modelNameOrPath(), conf);
        String outputDir = HadoopFiles.qualify(job.train().outputDir(), conf);
        Path output = new Path(HadoopFiles.qualify(request.output() != null ? request.output()
                : new Path(outputDir, "eval").toString(), conf));
        Dataset<Row> rows = inputRows(spark, job, request);
        boolean tokenized = TokenizedEval.isTokenized(rows);
        rows = tokenized ? TokenizedEval.withTask(rows)
                : rows.withColumn(TASK, PrepRows.task(datasetTasks(job, rows, conf)));
        Map<String, Kind> tasks = tokenized ? tokenizedKinds(rows) : taskKinds(rows);
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("no rows to evaluate in " + describe(job, request));
        }

        List<Dataset<Row>> predictions = new ArrayList<>();
        Map<String, FineTunedModel> models = new LinkedHashMap<>();
        for (Map.Entry<String, Kind> task : tasks.entrySet()) {
            FineTunedModel model = TrainedModel.forTask(outputDir, task.getKey(), baseModel, conf)
                    .setBatchSize(job.eval().perDeviceEvalBatchSize());
            models.put(task.getKey(), model);
            Dataset<Row> taskRows = rows.where(col(TASK).equalTo(task.getKey()));
            if (task.getValue() == Kind.CLASSIFICATION) {
                predictions.add(tokenized
                        ? TokenizedEval.classify(model, taskRows, request.input(), task.getKey(), conf)
                        : classify(model, taskRows, job));
            } else if (task.getValue() == Kind.CONVERSATION && job.eval().needsGeneration()) {
                model.setGeneration(job.generation(), job.train().seed());
                predictions.add(tokenized ? TokenizedEval.complete(spark, model, taskRows)
                        : complete(model, taskRows, job));
            }
        }
        Path predictionsDir = new Path(output, PREDICTIONS);
        if (!predictions.isEmpty()) {
            predictions.stream().reduce(Dataset::union).orElseThrow()
                    .write().mode(SaveMode.Overwrite).parquet(predictionsDir.toString());
        } else {
            delete(predictionsDir, conf);     // an earlier evaluation's, which this one does not replace
        }

        Map<String, Map<String, Object>> results = new TreeMap<>();
        for (Map.Entry<String, Kind> task : tasks.entrySet()) {
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("model", models.get(task.getKey()).toString());
            if (task.getValue() != Kind.TEXT && (task.getValue() == Kind.CLASSIFICATION
                    || job.eval().needsGeneration())) {
                metrics.putAll(scored(spark, predictionsDir, task.getKey(), task.getValue(), job));
            }
            String tokens = task.getValue() == Kind.CLASSIFICATION || !job.eval().metrics().contains("perplexity")
                    ? null : tokenizedRowsOf(job, request, tokenized, task.getKey(), conf);
            if (tokens != null) {
                metrics.putAll(perplexity(spark, tokens, models.get(task.getKey())));
            }
            results.put(task.getKey(), metrics);
        }
        Path file = new Path(output, RESULTS_FILE);
        write(file, resultsJson(describe(job, request), job.eval().metrics(), results), conf);
        return new Outcome(file.toString(), results);
    }

    /** The text of {@code eval_results.json}: what was evaluated, the metrics asked for, and each task's results. */
    public static String resultsJson(String input, List<String> metrics, Map<String, Map<String, Object>> tasks) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("input", input);
        json.put("metrics", metrics);
        json.put("tasks", tasks);
        return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(json)
                + "\n";
    }

    private static Dataset<Row> inputRows(SparkSession spark, JobConfig job, Request request) {
        Dataset<Row> rows;
        if (request.input() != null) {
            rows = spark.read().parquet(request.input());
        } else {
            if (job.data().preparedPath() == null) {
                throw new IllegalArgumentException("data.prepared_path is not set; set it to the folder sparktune prep"
                        + " wrote, or give --input");
            }
            rows = preparedSplit(spark, job, request);
        }
        if (TokenizedEval.isTokenized(rows)) {
            if (!request.datasets().isEmpty()) {
                throw new IllegalArgumentException("--dataset: tokenized rows do not name their dataset; give prepared"
                        + " Parquet, or leave --dataset out");
            }
            return rows;
        }
        for (String column : List.of(PrepRows.ID, PrepRows.DATASET, PrepRows.FORMAT)) {
            if (!List.of(rows.columns()).contains(column)) {
                throw new IllegalArgumentException(describe(job, request) + " has no column '" + column + "'; eval"
                        + " reads prepared or tokenized Parquet, as sparktune prep writes them");
            }
        }
        if (!request.datasets().isEmpty()) {
            rows = rows.where(col(PrepRows.DATASET).isin(request.datasets().toArray()));
        }
        return rows;
    }

    /**
     * The rows of the evaluated split of {@code data.prepared_path}: the validation rows among its own, or the rows
     * of its {@code _test/} folder. A split without rows fails with a message naming {@code --split}.
     */
    private static Dataset<Row> preparedSplit(SparkSession spark, JobConfig job, Request request) {
        String split = request.evaluatedSplit(job);
        String prepared = job.data().preparedPath();
        String chosen = request.split() != null ? "--split " + split
                : "the " + split + " split (eval's default when data.test_size is " + (job.data().testSize() > 0
                ? "above 0" : "0") + ", --split chooses)";
        Dataset<Row> rows;
        if (split.equals(PrepRows.SPLIT_TEST)) {
            Path test = new Path(prepared, PreparedOutput.TEST_DIR);
            if (!exists(test, spark.sparkContext().hadoopConfiguration())) {
                throw new IllegalArgumentException(chosen + ": data.prepared_path " + prepared + " has no test split ("
                        + test + " is missing); set data.test_size above 0 and rerun sparktune prep, or evaluate"
                        + " --split validation");
            }
            rows = spark.read().parquet(test.toString());
        } else {
            rows = spark.read().parquet(prepared).where(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_VALIDATION));
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(chosen + ": data.prepared_path " + prepared + " has no " + split
                    + " rows (is data." + (split.equals(PrepRows.SPLIT_TEST) ? "test_size" : "val_size") + " 0?);"
                    + " evaluate another --split, or give --input");
        }
        return rows;
    }

    /** Each dataset's task from the registry, when the job's registry exists; else each dataset is its own task. */
    private static Map<String, String> datasetTasks(JobConfig job, Dataset<Row> rows, Configuration conf) {
        Path registry = DatasetRegistry.location(job.data());
        try {
            if (!registry.getFileSystem(conf).exists(registry)) {
                return Map.of();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + registry + ": " + e, e);
        }
        DatasetRegistry known = DatasetRegistry.load(registry, conf);
        List<String> names = rows.select(PrepRows.DATASET).distinct().collectAsList().stream()
                .map(r -> r.getString(0)).filter(known.names()::contains).toList();
        return known.tasks(names);
    }

    /** Each task's kind, from the formats of its rows; a task mixing classification and text generation fails. */
    private static Map<String, Kind> taskKinds(Dataset<Row> rows) {
        Map<String, Kind> kinds = new TreeMap<>();
        for (Row r : rows.select(TASK, PrepRows.FORMAT).distinct().collectAsList()) {
            String task = r.getString(0);
            Kind kind = switch (r.getString(1)) {
                case PrepRows.FORMAT_CLASSIFICATION -> Kind.CLASSIFICATION;
                case PrepRows.FORMAT_TEXT -> Kind.TEXT;
                default -> Kind.CONVERSATION;
            };
            Kind before = kinds.put(task, kind);
            if (before != null && before != kind) {
                throw new IllegalArgumentException("task '" + task + "' holds both " + before + " and " + kind
                        + " rows; a task is either classification or causal language modelling");
            }
        }
        return kinds;
    }

    /** Each task of tokenized rows: classification when its rows have class labels, else causal LM. */
    private static Map<String, Kind> tokenizedKinds(Dataset<Row> rows) {
        Map<String, Kind> kinds = new TreeMap<>();
        for (Row r : rows.select(TASK).distinct().collectAsList()) {
            String task = r.getString(0);
            kinds.put(task, TokenizedEval.isClassification(rows.where(col(TASK).equalTo(task)))
                    ? Kind.CLASSIFICATION : Kind.CONVERSATION);
        }
        return kinds;
    }

    private static Dataset<Row> classify(FineTunedModel model, Dataset<Row> rows, JobConfig job) {
        return model.setInputCol(PrepRows.TEXT).setMaxLength(job.data().cutoffLen())
                .setTailLength(job.data().cutoffTailLen())
                .transform(rows.select(PrepRows.ID, PrepRows.DATASET, TASK, PrepRows.TEXT, PrepRows.LABEL))
                .select(col(PrepRows.ID), col(PrepRows.DATASET), col(TASK),
                        col(model.getPredictedLabelCol()).as(PREDICTION), col(PrepRows.LABEL).as(REFERENCE));
    }

    private static Dataset<Row> complete(FineTunedModel model, Dataset<Row> rows, JobConfig job) {
        Dataset<Row> prompts = rows.select(PrepRows.ID, PrepRows.DATASET, TASK, PrepRows.SYSTEM, PrepRows.MESSAGES)
                .flatMap(new PromptAndReply(), Encoders.row(PromptAndReply.SCHEMA));
        return model.setMessagesCol(PROMPT).setChatTemplate(job.data().template())
                .transform(prompts)
                .select(col(PrepRows.ID), col(PrepRows.DATASET), col(TASK),
                        col(model.getGeneratedTextCol()).as(PREDICTION), col(REFERENCE));
    }

    /** The metrics of one task from its written predictions, so inference runs once. */
    private static Map<String, Object> scored(SparkSession spark, Path predictions, String task, Kind kind,
                                              JobConfig job) {
        List<String> references = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        long missing = 0;
        for (Row r : spark.read().parquet(predictions.toString()).where(col(TASK).equalTo(task))
                .select(PREDICTION, REFERENCE).collectAsList()) {
            if (r.isNullAt(0) || r.isNullAt(1)) {
                missing++;
                continue;
            }
            outputs.add(r.getString(0));
            references.add(r.getString(1));
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("rows", references.size());
        if (missing > 0) {
            json.put("rows_without_prediction", missing);
        }
        if (references.isEmpty()) {
            return json;
        }
        json.putAll(kind == Kind.CLASSIFICATION
                ? TaskMetrics.classification(references, outputs, job.eval().metrics())
                : TaskMetrics.generation(references, outputs, job.eval().metrics()));
        return json;
    }

    /**
     * The tokenized rows a causal-LM task's perplexity is measured on: the tokenized input's, or, when a split of
     * {@code data.prepared_path} is evaluated, the task's tokenized rows of that split ({@code _validation/}: those
     * training validates on; {@code _test/}); null when there are none.
     */
    private static String tokenizedRowsOf(JobConfig job, Request request, boolean tokenized, String task,
                                          Configuration conf) {
        if (tokenized) {
            return TokenizedParquet.taskFolders(conf, request.input()).getOrDefault(task, request.input());
        }
        if (request.input() != null || !request.datasets().isEmpty() || job.data().tokenizedPath() == null) {
            return null;
        }
        FolderCommit.requireComplete(conf, job.data().tokenizedPath(), "data.tokenized_path");
        String folder = PrepRows.SPLIT_TEST.equals(request.evaluatedSplit(job)) ? TokenizeStage.TEST_DIR
                : TokenizeStage.VALIDATION_DIR;
        return TokenizedParquet.taskFolders(conf, new Path(job.data().tokenizedPath(), folder).toString()).get(task);
    }

    /** exp of the mean cross-entropy per scored token over the tokenized rows in {@code folder}. */
    private static Map<String, Object> perplexity(SparkSession spark, String folder, FineTunedModel model) {
        FineTunedModel scorer = model.copy(ParamMap.empty()).setMaxNewTokens(0)
                .setInputIdsCol(TokenizedParquet.INPUT_IDS);
        double[] sums = scorer.transform(spark.read().parquet(folder))
                .javaRDD().map(new TokenLoss(scorer.getLossCol())::of)
                .fold(new double[2], (a, b) -> new double[] {a[0] + b[0], a[1] + b[1]});
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("perplexity", sums[1] == 0 ? Double.NaN : Math.exp(sums[0] / sums[1]));
        json.put("perplexity_tokens", (long) sums[1]);
        return json;
    }

    private static String describe(JobConfig job, Request request) {
        String input = request.input() != null ? request.input()
                : "the " + request.evaluatedSplit(job) + " split of data.prepared_path " + job.data().preparedPath();
        return request.datasets().isEmpty() ? input : input + " (datasets " + String.join(", ", request.datasets())
                + ")";
    }

    private static boolean exists(Path path, Configuration conf) {
        try {
            return path.getFileSystem(conf).exists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for " + path + ": " + e, e);
        }
    }

    private static void delete(Path folder, Configuration conf) {
        try {
            folder.getFileSystem(conf).delete(folder, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + folder + ": " + e, e);
        }
    }

    private static void write(Path file, String text, Configuration conf) {
        try {
            FileSystem fs = file.getFileSystem(conf);
            fs.delete(file, false);
            HadoopFiles.writeDurably(fs, file, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e, e);
        }
    }
}
