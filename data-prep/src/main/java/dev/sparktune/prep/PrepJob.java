package dev.sparktune.prep;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.not;

import dev.sparktune.config.DataConfig;
import dev.sparktune.dedup.SplitLeakage;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.ingest.Ingest;
import dev.sparktune.pack.PackOptions;
import dev.sparktune.pack.PackOutcome;
import dev.sparktune.pack.PackReport;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code sparktune prep}: read the datasets in {@code data.dataset}, run the prep stages (ingest, then
 * {@link PrepStages}: clean, dedup, split, augment), check that no test row nor a near-duplicate of one is in the
 * training split ({@link SplitLeakage}: reported, with a warning, never failing the job), tokenize/pack to
 * {@code data.tokenized_path} when a model is given (the validation split to {@code <tokenized_path>/_validation},
 * the test split to {@code <tokenized_path>/_test}), and commit the kept rows (the test split's in {@code _test/}),
 * every stage's rejected rows and the report to {@code data.prepared_path} (or one partition of it).
 */
public final class PrepJob {
    private static final Logger LOG = LoggerFactory.getLogger(PrepJob.class);

    private PrepJob() {
    }

    /** Fails with a message naming the key when the config cannot run prep; cheap, no Spark needed. */
    public static void checkConfig(DataConfig data) {
        if (data.preparedPath() == null) {
            throw new IllegalArgumentException("data.prepared_path is not set: say where prep writes its Parquet,"
                    + " e.g. --set data.prepared_path=hdfs:///prep/my-job");
        }
        if (data.dataset().isEmpty()) {
            throw new IllegalArgumentException("data.dataset lists no datasets: name at least one from the dataset"
                    + " registry (" + data.datasetInfo() + " under " + data.datasetDir() + ")");
        }
        List<String> both = data.evalDataset().stream().filter(data.dataset()::contains).toList();
        if (!both.isEmpty()) {
            throw new IllegalArgumentException("data.eval_dataset names " + both + ", which data.dataset also lists:"
                    + " an evaluation-only dataset is never trained on; list it in one of the two");
        }
    }

    /**
     * Runs the job.
     *
     * @param partition the one partition to write, or null to write (and replace) all of {@code prepared_path}
     * @return the report it wrote
     */
    public static PrepReport run(SparkSession spark, DataConfig data, PartitionSpec partition) {
        return run(spark, data, null, partition);
    }

    /**
     * Runs the job, tokenizing too when {@code modelDir}, {@code data.tokenized_path} and {@code data.tokenize} are
     * set.
     *
     * @param modelDir  {@code model.model_name_or_path}, a local folder with the tokenizer files, or null
     * @param partition the one partition to write (of {@code tokenized_path} too), or null to write (and replace) all
     *                  of {@code prepared_path}
     * @return the report it wrote
     */
    public static PrepReport run(SparkSession spark, DataConfig data, String modelDir, PartitionSpec partition) {
        checkConfig(data);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path datasetDir = new Path(data.datasetDir());
        DatasetRegistry registry = DatasetRegistry.load(DatasetRegistry.location(data), hadoop);
        Path prepared = new Path(data.preparedPath());
        Path target = partition == null ? prepared : new Path(prepared, partition.folder());

        List<String> datasets = new ArrayList<>(data.dataset());
        data.evalDataset().stream().filter(d -> !datasets.contains(d)).forEach(datasets::add);
        Map<String, String> tasks = registry.tasks(datasets);
        PackOptions pack = data.prep().tokenize() && modelDir != null && data.tokenizedPath() != null
                ? PackOptions.of(modelDir, data.cutoffLen(), data.packing(), data.trainOnPrompt(), data.template(),
                        partition == null ? data.tokenizedPath() : partition.under(data.tokenizedPath()))
                        .withCutoffTailLen(data.cutoffTailLen())
                        .withTasks(tasks)
                : null;
        if (pack != null) {
            TokenizeStage.checkTokenizer(hadoop, pack);
        }
        PrepStages stages = new PrepStages(data, prepared, tasks);
        StageChain chain = new StageChain(Ingest.read(spark, registry, datasets, datasetDir, data.maxRecordBytes()));
        try {
            for (Function<Dataset<Row>, StageResult> stage : stages.afterIngest()) {
                chain.then(stage);
            }
            long rows = chain.counts().get(chain.counts().size() - 1).out();
            Map<String, Long> splits = splitCounts(chain.kept());
            long testRows = splits.get(PrepRows.SPLIT_TEST);
            Map<String, Object> leakage = null;
            if (testRows > 0) {
                SplitLeakage.Counts found = SplitLeakage.check(chain.kept(), PrepStages.dedupOptions(data.prep()));
                if (found.leaked() > 0) {
                    LOG.warn("{} of {} test rows are in the training split: {} exactly, {} as near-duplicates"
                            + " (Jaccard >= {}); their test scores overstate the model", found.leaked(),
                            found.testRows(), found.exact(), found.near(), data.prep().dedupThreshold());
                }
                leakage = found.toJson();
            }
            Map<String, Long> histogram = null;
            Map<String, Long> tokenizedRows = null;
            if (pack != null) {
                PackOutcome outcome = TokenizeStage.run(spark, chain.kept(), pack);
                PackReport r = outcome.report();
                chain.alongside(new StageCounts(TokenizeStage.STAGE, r.rowsIn(), r.rowsKept(), r.rowsRejected()),
                        outcome.result().rejected());
                histogram = new LinkedHashMap<>();
                for (Map.Entry<Integer, Long> e : r.lengthHistogram().entrySet()) {
                    histogram.put(String.valueOf(e.getKey()), e.getValue());
                }
                tokenizedRows = new LinkedHashMap<>();
                tokenizedRows.put(PrepRows.SPLIT_TRAIN, r.trainOutputRows());
                tokenizedRows.put(PrepRows.SPLIT_VALIDATION, r.validationOutputRows());
                tokenizedRows.put(PrepRows.SPLIT_TEST, r.testOutputRows());
            }
            long rejected = chain.counts().stream().mapToLong(StageCounts::rejected).sum();
            PrepReport report = new PrepReport(data.dataset(), partition == null ? null : partition.folder(),
                    chain.counts(), rows, rejected, splits, histogram, tokenizedRows, stages.augmentation(), leakage);
            Column test = col(PrepRows.SPLIT).eqNullSafe(PrepRows.SPLIT_TEST);
            PreparedOutput.commit(target, chain.kept().filter(not(test)), rows - testRows, chain.kept().filter(test),
                    testRows, chain.rejected(), rejected, report.toJson(), hadoop);
            return report;
        } finally {
            chain.release();
            stages.release();
            JavaSparkContext.fromSparkContext(spark.sparkContext()).getPersistentRDDs().values().stream()
                    .filter(rdd -> Ingest.PERSISTED_NAME.equals(rdd.name()))
                    .forEach(rdd -> rdd.unpersist(false));
        }
    }

    /** Prepared rows per split: train (with rows of no split, which train), validation, test. */
    private static Map<String, Long> splitCounts(Dataset<Row> rows) {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (String split : List.of(PrepRows.SPLIT_TRAIN, PrepRows.SPLIT_VALIDATION, PrepRows.SPLIT_TEST)) {
            counts.put(split, 0L);
        }
        for (Row r : rows.groupBy(col(PrepRows.SPLIT)).count().collectAsList()) {
            String split = r.isNullAt(0) ? PrepRows.SPLIT_TRAIN : r.getString(0);
            counts.merge(split, r.getLong(1), Long::sum);
        }
        return counts;
    }
}
