package dev.sparktune.pack;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.sparktune.io.FolderCommit;
import dev.sparktune.io.HadoopConf;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.SpecialTokens;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * The last data-prep stage: prepared rows to the tokenized Parquet the trainer reads, at {@code tokenized_path}.
 *
 * <ol>
 *   <li>Fingerprint the input rows, tokenizer files and options; if {@code tokenized_path} holds a committed output
 *       with the same fingerprint, reuse it and tokenize nothing.</li>
 *   <li>Hash-partition the rows by {@code id} into {@code partitions} partitions and tokenize each on an executor
 *       ({@link EncodePartition}, one tokenizer per executor JVM).</li>
 *   <li>With packing, sort each partition's SFT and text samples by task, id and piece and pack them
 *       ({@link PackPartition}). The partition a sample lands in depends only on its row's id, so a rerun packs the
 *       same rows together in the same order, whatever the input's own partitioning, and nothing is collected to
 *       the driver. The price: samples of different partitions never share a row, so each partition (and each
 *       window of {@value #PACK_WINDOW} samples, and each task) ends with its own partly-filled rows; against one
 *       global best-fit pass that is at most a few extra rows per partition and task. Classification rows are never
 *       packed.</li>
 *   <li>Write to a staging folder of this run beside {@code tokenized_path}, one folder {@code task=<name>} per training task (the
 *       registry's {@code task:}, default the dataset's name; Spark's partition layout, so
 *       {@code spark.read.parquet(tokenized_path)} has a {@code task} column): the {@code train} split's rows (and
 *       those of rows without a split), the {@code validation} split's rows under {@value #VALIDATION_DIR}{@code /}
 *       and the {@code test} split's under {@value #TEST_DIR}{@code /} (each only when there are any),
 *       {@code _rejected/} (stage {@code tokenize}), each classification task's {@code _labels.json}
 *       ({@link LabelsFile}: labels of all splits) in its folders, {@code _stats.json},
 *       then commit it to {@code tokenized_path} ({@link FolderCommit}: the previous output kept until the new one
 *       is in place, then {@code _fingerprint} and last the {@code _SUCCESS} list of committed files). Spark and
 *       the trainer skip names starting with {@code _}.</li>
 * </ol>
 *
 * <p>The output layout:
 * <pre>
 * tokenized_path/
 *   task=spam/part-*.parquet              train split of task spam: what the trainer reads
 *   task=spam/_labels.json                classification tasks: id2label, label2id
 *   _validation/task=spam/part-*.parquet  validation split, same layout; never read for training
 *   _test/task=spam/part-*.parquet        test split, same layout; read by sparktune eval alone
 *   _rejected/part-*.parquet              rows that could not be tokenized (any split)
 *   _stats.json _fingerprint _SUCCESS
 * </pre>
 * The splits are tokenized in one pass and packed apart: a packed row never holds samples of two splits, nor of
 * two tasks.
 */
public final class TokenizeStage {
    public static final String STAGE = "tokenize";
    static final String STATS_FILE = "_stats.json";
    static final String REJECTED_DIR = "_rejected";
    /**
     * The folder inside {@code tokenized_path} that holds the validation split's tokenized rows. Its name starts
     * with {@code _}, so Spark's reader and the trainer's listing ({@code TokenizedParquet.rowGroups}) skip it.
     */
    public static final String VALIDATION_DIR = "_validation";
    /** The folder inside {@code tokenized_path} that holds the test split's tokenized rows; skipped likewise. */
    public static final String TEST_DIR = "_test";
    /** Samples packed together at most; bounds an executor's memory while packing. */
    static final int PACK_WINDOW = 10_000;

    private TokenizeStage() {
    }

    /**
     * Fails at once, naming {@code model.model_name_or_path}, when the model folder has no tokenizer: prep checks
     * this before its first stage rather than after all of them.
     */
    public static void checkTokenizer(Configuration conf, PackOptions options) {
        TokenizerFiles.find(conf, options.modelDir());
    }

    public static PackOutcome run(SparkSession spark, Dataset<Row> prepared, PackOptions options) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        TokenizerFiles files = TokenizerFiles.find(conf, options.modelDir());
        int partitions = options.partitions() > 0 ? options.partitions()
                : Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions"));
        // Persisted: the fingerprint, the format and label queries and the tokenizing pass all read the input, and
        // the stages before this one (augmentation talks to translation servers) must run once, not four times.
        Dataset<Row> input = prepared.select(Arrays.stream(PrepRows.PREPARED.fieldNames()).map(c -> col(c))
                .toArray(Column[]::new)).persist(StorageLevel.MEMORY_AND_DISK());
        // the driver reads the tokenizer files from the same cache as the executors: a local folder in place, any
        // other file system's copied
        try (ModelFolderCache.Lease copy = ModelFolderCache.jvm().acquire(files.listing(), conf)) {
            return run(spark, input, options, files, copy.folder(), partitions);
        } finally {
            input.unpersist();
        }
    }

    /** @param tokenizerDir a local folder holding the tokenizer files */
    private static PackOutcome run(SparkSession spark, Dataset<Row> input, PackOptions options, TokenizerFiles files,
                                   java.nio.file.Path tokenizerDir, int partitions) {
        Path output = new Path(options.tokenizedPath());
        FileSystem fs = fileSystem(spark, output);
        Fingerprint.Parts parts = Fingerprint.of(input, files.sha256(tokenizerDir), options, partitions, PACK_WINDOW);
        String fingerprint = parts.fingerprint();
        try (FolderCommit commit = FolderCommit.begin(fs, output)) {
            if (fingerprint.equals(Fingerprint.committed(fs, output))) {
                PackReport report = Fingerprint.GSON.fromJson(Fingerprint.readText(fs, new Path(output, STATS_FILE)),
                        PackReport.class);
                return outcome(spark, fs, output, report, fingerprint, true);
            }
            return tokenize(spark, input, options, files, tokenizerDir, partitions, parts, commit);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot commit the tokenized output " + output + ": " + e.getMessage(), e);
        }
    }

    /** Tokenizes {@code input} into the commit's staging folder and commits it. */
    private static PackOutcome tokenize(SparkSession spark, Dataset<Row> input, PackOptions options,
                                        TokenizerFiles files, java.nio.file.Path tokenizerDir, int partitions,
                                        Fingerprint.Parts parts, FolderCommit commit) throws IOException {
        Path output = commit.target();
        FileSystem fs = output.getFileSystem(spark.sparkContext().hadoopConfiguration());
        List<Row> kinds = input.select(PrepRows.DATASET, PrepRows.FORMAT).distinct().collectAsList();
        boolean hasSft = kinds.stream().anyMatch(r -> PrepRows.FORMAT_ALPACA.equals(r.getString(1))
                || PrepRows.FORMAT_SHAREGPT.equals(r.getString(1)));
        boolean hasClassification = kinds.stream()
                .anyMatch(r -> PrepRows.FORMAT_CLASSIFICATION.equals(r.getString(1)));
        long padId;
        try (Tokenizer tokenizer = Tokenizer.load(tokenizerDir)) {
            padId = padId(tokenizer.specialTokens());
            if (hasSft) {
                // fail the job here, with the template's own message, rather than reject every SFT row
                ChatTemplate.forModel(tokenizerDir, options.template());
            }
        }
        Map<String, LabelsFile> labels = !hasClassification ? Map.of() : labels(input, options);
        Map<String, LinkedHashMap<String, Long>> labelIndexes = new HashMap<>();
        labels.forEach((task, file) -> labelIndexes.put(task, file.index()));

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<HadoopConf> shipped = jsc.broadcast(new HadoopConf(spark.sparkContext().hadoopConfiguration()));
        Dataset<Row> encoded = input.repartition(partitions, col(PrepRows.ID))
                .mapPartitions(new EncodePartition(files, shipped, options.template(), options.cutoffLen(),
                        options.cutoffTailLen(), options.trainOnPrompt(), labelIndexes, options.tasks()),
                        Encoders.row(TokenizedSchema.ENCODED))
                .persist(StorageLevel.MEMORY_AND_DISK());
        Path staging = commit.staging();
        try {
            Path validationDir = new Path(staging, VALIDATION_DIR);
            Path testDir = new Path(staging, TEST_DIR);
            // filters keep the id partitioning, so each split is packed per partition, apart from the others
            tokenized(encoded.filter(train()), options, padId).write().partitionBy(TokenizedParquet.TASK)
                    .parquet(staging.toString());
            tokenized(encoded.filter(split(PrepRows.SPLIT_VALIDATION)), options, padId).write()
                    .partitionBy(TokenizedParquet.TASK).parquet(validationDir.toString());
            tokenized(encoded.filter(split(PrepRows.SPLIT_TEST)), options, padId).write()
                    .partitionBy(TokenizedParquet.TASK).parquet(testDir.toString());
            rejected(encoded).write().parquet(new Path(staging, REJECTED_DIR).toString());
            long trainRows = rows(spark, staging);
            long validationRows = rows(spark, validationDir);
            long testRows = rows(spark, testDir);
            // a split without rows is no folder: the trainer and eval find none rather than an empty one
            if (validationRows == 0) {
                delete(fs, validationDir);
            }
            if (testRows == 0) {
                delete(fs, testDir);
            }
            PackReport report = report(encoded, options, trainRows, validationRows, testRows);
            Configuration conf = spark.sparkContext().hadoopConfiguration();
            for (Map.Entry<String, LabelsFile> task : labels.entrySet()) {
                for (Path split : List.of(staging, validationDir, testDir)) {
                    Path folder = new Path(split, TokenizedParquet.TASK_FOLDER + task.getKey());
                    if (exists(fs, folder)) {
                        task.getValue().write(conf, folder.toString());
                    }
                }
            }
            Fingerprint.writeText(fs, new Path(staging, STATS_FILE), Fingerprint.GSON.toJson(report));
            commit.commit(committed -> Fingerprint.write(fs, committed, parts));
            return outcome(spark, fs, output, report, parts.fingerprint(), false);
        } finally {
            encoded.unpersist();
            shipped.destroy();
        }
    }

    /**
     * Each classification task's labels: the given list ({@code options.labels()}) for every task, else the task's
     * distinct labels sorted by {@link String#compareTo}, so the same labels always get the same indexes. A small
     * distinct query, never the rows.
     */
    private static Map<String, LabelsFile> labels(Dataset<Row> input, PackOptions options) {
        Map<String, List<String>> byTask = new TreeMap<>();
        for (Row row : input.filter(col(PrepRows.FORMAT).equalTo(PrepRows.FORMAT_CLASSIFICATION))
                .select(PrepRows.task(options.tasks()), col(PrepRows.LABEL)).distinct().collectAsList()) {
            List<String> labels = byTask.computeIfAbsent(row.getString(0), t -> new ArrayList<>());
            if (!row.isNullAt(1)) {
                labels.add(row.getString(1));
            }
        }
        Map<String, LabelsFile> files = new TreeMap<>();
        byTask.forEach((task, found) -> {
            List<String> sorted = found.stream().sorted().toList();
            files.put(task, new LabelsFile(options.labels() != null ? options.labels() : sorted));
        });
        return files;
    }

    /** Rows of a written split (0 when nothing was written). */
    private static long rows(SparkSession spark, Path split) {
        return spark.read().schema(TokenizedSchema.TOKENIZED).parquet(split.toString()).count();
    }

    /** Training samples: split {@code train}, or null (input that never went through the split stage). */
    private static Column train() {
        return col(TokenizedSchema.SPLIT).isNull().or(col(TokenizedSchema.SPLIT).equalTo(PrepRows.SPLIT_TRAIN));
    }

    /** Samples of one held-out split. */
    private static Column split(String name) {
        return col(TokenizedSchema.SPLIT).eqNullSafe(name);
    }

    /**
     * Kept samples (of one split) as trainer rows: causal ones packed (or one per row), classification ones one per
     * row.
     */
    private static Dataset<Row> tokenized(Dataset<Row> encoded, PackOptions options, long padId) {
        Dataset<Row> kept = encoded.filter(col(TokenizedSchema.REASON).isNull());
        Dataset<Row> causal = kept.filter(col(TokenizedSchema.LABELS).isNotNull())
                .sortWithinPartitions(TokenizedSchema.TASK, TokenizedSchema.ID, TokenizedSchema.PIECE);
        Dataset<Row> causalRows = options.packing()
                ? causal.mapPartitions(new PackPartition(options.cutoffLen(), padId, PACK_WINDOW),
                        Encoders.row(TokenizedSchema.TOKENIZED))
                : causal.select(col(TokenizedSchema.INPUT_IDS), col(TokenizedSchema.LABELS),
                        lit(null).cast(TokenizedSchema.TOKENIZED.apply(TokenizedSchema.SEGMENT_IDS).dataType())
                                .as(TokenizedSchema.SEGMENT_IDS),
                        lit(null).cast("bigint").as(TokenizedSchema.LABEL), col(TokenizedSchema.TASK));
        Dataset<Row> classRows = kept.filter(col(TokenizedSchema.LABEL).isNotNull())
                .sortWithinPartitions(TokenizedSchema.TASK, TokenizedSchema.ID)
                .select(col(TokenizedSchema.INPUT_IDS),
                        lit(null).cast(TokenizedSchema.TOKENIZED.apply(TokenizedSchema.LABELS).dataType())
                                .as(TokenizedSchema.LABELS),
                        lit(null).cast(TokenizedSchema.TOKENIZED.apply(TokenizedSchema.SEGMENT_IDS).dataType())
                                .as(TokenizedSchema.SEGMENT_IDS),
                        col(TokenizedSchema.LABEL), col(TokenizedSchema.TASK));
        return causalRows.unionByName(classRows);
    }

    private static Dataset<Row> rejected(Dataset<Row> encoded) {
        return encoded.filter(col(TokenizedSchema.REASON).isNotNull())
                .select(lit(STAGE).as(PrepRows.STAGE), col(TokenizedSchema.REASON).as(PrepRows.REASON),
                        col(TokenizedSchema.DATASET).as(PrepRows.DATASET), col(TokenizedSchema.ID).as(PrepRows.SOURCE),
                        col(TokenizedSchema.RECORD).as(PrepRows.RECORD));
    }

    private static PackReport report(Dataset<Row> encoded, PackOptions options, long trainRows,
                                     long validationRows, long testRows) {
        Column ok = col(TokenizedSchema.REASON).isNull();
        Column length = col(TokenizedSchema.LENGTH);
        Row counts = encoded.agg(
                sum(when(col(TokenizedSchema.REASON).isNotNull(), 1).otherwise(0)),
                sum(when(ok.and(col(TokenizedSchema.PIECE).equalTo(0)), 1).otherwise(0)),
                sum(when(col(TokenizedSchema.LABELS).isNotNull(), 1).otherwise(0)),
                sum(when(col(TokenizedSchema.LABEL).isNotNull(), 1).otherwise(0)),
                sum(when(ok, length).otherwise(0)),
                sum(when(col(TokenizedSchema.LABELS).isNotNull(), length).otherwise(0)),
                sum(when(ok.and(length.equalTo(options.cutoffLen())), 1).otherwise(0)),
                sum(when(ok.and(col(TokenizedSchema.PIECE).equalTo(0)).and(split(PrepRows.SPLIT_VALIDATION)), 1)
                        .otherwise(0)),
                sum(when(ok.and(col(TokenizedSchema.PIECE).equalTo(0)).and(split(PrepRows.SPLIT_TEST)), 1)
                        .otherwise(0))).first();
        long rejected = count(counts, 0);
        long kept = count(counts, 1);
        long causal = count(counts, 2);
        long classification = count(counts, 3);
        long causalTokens = count(counts, 5);
        SortedMap<Integer, Long> histogram = new TreeMap<>();
        for (Row r : encoded.filter(ok).groupBy(TokenizedSchema.LENGTH).count().collectAsList()) {
            histogram.merge(PackReport.bucket(r.getInt(0), options.cutoffLen()), r.getLong(1), Long::sum);
        }
        long outputRows = trainRows + validationRows + testRows;
        long packedRows = options.packing() ? outputRows - classification : 0;
        double efficiency = packedRows == 0 ? 0 : (double) causalTokens / ((double) packedRows * options.cutoffLen());
        return new PackReport(kept + rejected, kept, rejected, count(counts, 7), count(counts, 8), causal,
                classification, count(counts, 4), count(counts, 6), outputRows, trainRows, validationRows, testRows,
                packedRows, efficiency, histogram);
    }

    private static long count(Row row, int i) {
        return row.isNullAt(i) ? 0 : ((Number) row.get(i)).longValue();
    }

    private static PackOutcome outcome(SparkSession spark, FileSystem fs, Path output, PackReport report,
                                       String fingerprint, boolean reused) {
        Dataset<Row> kept = spark.read().schema(TokenizedSchema.TOKENIZED).parquet(output.toString());
        Dataset<Row> rejected = spark.read().schema(PrepRows.REJECTED)
                .parquet(new Path(output, REJECTED_DIR).toString());
        return new PackOutcome(new StageResult(STAGE, kept, rejected), heldOut(spark, fs, output, VALIDATION_DIR),
                heldOut(spark, fs, output, TEST_DIR), report, fingerprint, reused);
    }

    /** The tokenized rows of a held-out split's folder, none when it has no folder. */
    private static Dataset<Row> heldOut(SparkSession spark, FileSystem fs, Path output, String folder) {
        Path dir = new Path(output, folder);
        return exists(fs, dir) ? spark.read().schema(TokenizedSchema.TOKENIZED).parquet(dir.toString())
                : spark.createDataFrame(List.of(), TokenizedSchema.TOKENIZED);
    }

    /**
     * The id after a packed row's last segment: the pad token, else EOS, else 0. It is masked out of attention and
     * loss, so any valid id serves.
     */
    static long padId(SpecialTokens special) {
        if (special.pad() != null) {
            return special.pad().id();
        }
        return special.eos() != null ? special.eos().id() : 0;
    }

    private static boolean exists(FileSystem fs, Path path) {
        try {
            return fs.exists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for " + path, e);
        }
    }

    private static void delete(FileSystem fs, Path path) {
        try {
            if (fs.exists(path)) {
                fs.delete(path, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + path, e);
        }
    }

    private static FileSystem fileSystem(SparkSession spark, Path path) {
        try {
            return path.getFileSystem(spark.sparkContext().hadoopConfiguration());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the file system of " + path, e);
        }
    }
}
