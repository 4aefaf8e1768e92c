package dev.sparktune.prep;

import dev.sparktune.config.DataConfig;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.ingest.Ingest;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sparktune prep}: read the datasets in {@code data.dataset}, run the prep stages (ingest, then
 * {@link PrepStages}), and commit the kept rows, every stage's rejected rows and the report to
 * {@code data.prepared_path} (or one partition of it).
 */
public final class PrepJob {
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
    }

    /**
     * Runs the job.
     *
     * @param partition the one partition to write, or null to write (and replace) all of {@code prepared_path}
     * @return the report it wrote
     */
    public static PrepReport run(SparkSession spark, DataConfig data, PartitionSpec partition) {
        checkConfig(data);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path datasetDir = new Path(data.datasetDir());
        Path info = new Path(data.datasetInfo());
        Path registryPath = info.isAbsolute() || info.toUri().getScheme() != null ? info : new Path(datasetDir, info);
        DatasetRegistry registry = DatasetRegistry.load(registryPath, hadoop);
        Path prepared = new Path(data.preparedPath());
        Path target = partition == null ? prepared : new Path(prepared, partition.folder());

        StageChain chain = new StageChain(Ingest.read(spark, registry, data.dataset(), datasetDir, data.maxRecordBytes()));
        try {
            for (Function<Dataset<Row>, StageResult> stage : PrepStages.afterIngest(data)) {
                chain.then(stage);
            }
            long rows = chain.counts().get(chain.counts().size() - 1).out();
            long rejected = chain.counts().stream().mapToLong(StageCounts::rejected).sum();
            PrepReport report = new PrepReport(data.dataset(), partition == null ? null : partition.folder(),
                    chain.counts(), rows, rejected, null, null);
            PreparedOutput.commit(target, chain.kept(), rows, chain.rejected(), rejected, report.toJson(), hadoop);
            return report;
        } finally {
            chain.release();
            JavaSparkContext.fromSparkContext(spark.sparkContext()).getPersistentRDDs().values().stream()
                    .filter(rdd -> Ingest.PERSISTED_NAME.equals(rdd.name()))
                    .forEach(rdd -> rdd.unpersist(false));
        }
    }
}
