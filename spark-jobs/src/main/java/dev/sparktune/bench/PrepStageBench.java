package dev.sparktune.bench;

import dev.sparktune.config.DataConfig;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.ingest.Ingest;
import dev.sparktune.pack.PackOptions;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.prep.PrepStages;
import dev.sparktune.rows.StageResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * Rows per second of each prep stage (ingest, then {@link PrepStages}' clean, dedup, split and augment, then
 * tokenize) on a local Spark session of a given number of cores. The job itself does not time its stages, so each
 * is timed in isolation: its input is persisted and counted before the clock starts, and the clock stops once the
 * stage's kept and rejected rows are persisted and counted (tokenize: once its Parquet is written). Ingest's clock
 * starts before the files are listed. Rows/s is the stage's rows in over that time.
 */
public final class PrepStageBench {
    public static final String TOKENIZE = TokenizeStage.STAGE;

    /** One stage: the rows it was given and its rate in each repetition. */
    public record StageRate(String stage, long rowsIn, Samples rowsPerSecond) {
    }

    private record Timing(String stage, long rowsIn, double seconds) {
    }

    private PrepStageBench() {
    }

    /**
     * @param data     the job's data section (the demo's, pointed at the corpus)
     * @param modelDir the tokenizer's folder (all-MiniLM-L6-v2)
     * @param scratch  an empty folder for the tokenized output of every repetition
     * @param shufflePartitionsPerCore what sparktune gives a local session it starts itself, so the stages run as
     *                                 a local prep does
     */
    public static List<StageRate> run(DataConfig data, Path modelDir, Path scratch, int cores,
                                      int shufflePartitionsPerCore, int repeats) {
        if (SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined()) {
            throw new IllegalStateException("bench prep starts Spark sessions of 1 core and of all cores itself, but"
                    + " this JVM already runs one");
        }
        SparkSession spark = SparkSession.builder().appName("sparktune bench prep").master("local[" + cores + "]")
                .config("spark.sql.shuffle.partitions", shufflePartitionsPerCore * cores)
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        try {
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            Map<String, Long> rowsIn = new LinkedHashMap<>();
            for (int r = 0; r < repeats; r++) {
                Path tokenized = scratch.resolve("tokenized-" + cores + "-cores-" + r);
                for (Timing t : once(spark, data, modelDir, tokenized)) {
                    rates.computeIfAbsent(t.stage(), s -> new ArrayList<>()).add(t.rowsIn() / t.seconds());
                    rowsIn.putIfAbsent(t.stage(), t.rowsIn());
                }
            }
            List<StageRate> out = new ArrayList<>();
            rates.forEach((stage, values) -> out.add(new StageRate(stage, rowsIn.get(stage), Samples.of(values))));
            return out;
        } finally {
            spark.stop();
        }
    }

    /** One pass over every stage, as the job chains them, each timed on its own. */
    private static List<Timing> once(SparkSession spark, DataConfig data, Path modelDir, Path tokenized) {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        List<String> datasets = new ArrayList<>(data.dataset());
        data.evalDataset().stream().filter(d -> !datasets.contains(d)).forEach(datasets::add);
        List<Dataset<Row>> persisted = new ArrayList<>();
        List<Timing> timings = new ArrayList<>();
        PrepStages stages = null;
        try {
            long start = System.nanoTime();
            DatasetRegistry registry = DatasetRegistry.load(DatasetRegistry.location(data), hadoop);
            StageResult ingested = Ingest.read(spark, registry, datasets, new org.apache.hadoop.fs.Path(
                    data.datasetDir()), data.maxRecordBytes());
            Dataset<Row> kept = persist(ingested.kept(), persisted);
            long rows = kept.count();
            long rejected = persist(ingested.rejected(), persisted).count();
            timings.add(new Timing(Ingest.STAGE, rows + rejected, seconds(start)));

            Map<String, String> tasks = registry.tasks(datasets);
            stages = new PrepStages(data, new org.apache.hadoop.fs.Path(data.preparedPath()), tasks);
            for (Function<Dataset<Row>, StageResult> stage : stages.afterIngest()) {
                start = System.nanoTime();
                StageResult result = stage.apply(kept);
                Dataset<Row> next = persist(result.kept(), persisted);
                long nextRows = next.count();
                persist(result.rejected(), persisted).count();
                timings.add(new Timing(result.stage(), rows, seconds(start)));
                kept = next;
                rows = nextRows;
            }

            PackOptions pack = PackOptions.of(modelDir.toString(), data.cutoffLen(), data.packing(),
                    data.trainOnPrompt(), data.template(), tokenized.toString()).withCutoffTailLen(data.cutoffTailLen()).withTasks(tasks);
            start = System.nanoTime();
            TokenizeStage.run(spark, kept, pack);
            timings.add(new Timing(TOKENIZE, rows, seconds(start)));
            return timings;
        } finally {
            persisted.forEach(Dataset::unpersist);
            if (stages != null) {
                stages.release();
            }
            JavaSparkContext.fromSparkContext(spark.sparkContext()).getPersistentRDDs().values().stream()
                    .filter(rdd -> Ingest.PERSISTED_NAME.equals(rdd.name()))
                    .forEach(rdd -> rdd.unpersist(false));
        }
    }

    private static Dataset<Row> persist(Dataset<Row> rows, List<Dataset<Row>> persisted) {
        Dataset<Row> p = rows.persist(StorageLevel.MEMORY_AND_DISK());
        persisted.add(p);
        return p;
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
