package dev.sparktune.training;

import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.reflect.ClassTag$;

/**
 * Data-parallel fine-tuning as one Spark job (DESIGN.md §3): {@code world_size} barrier tasks, one per rank,
 * followed by a shuffle, so that a rank lost with its executor fails a ShuffleMapStage, which Spark retries as a
 * whole (a barrier ResultStage would be aborted instead); the retried ranks resume from the newest complete
 * checkpoint. The driver only checks the cluster, hands out the job's YAML text, logs rank 0's progress and
 * collects where each rank ended: rows and weights never pass through it.
 */
public final class TrainingJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingJob.class);
    /** How long the driver waits for executors to register before it calls the cluster too small. */
    static final Duration SLOT_WAIT = Duration.ofSeconds(30);

    private TrainingJob() {
    }

    public static TrainingOutcome run(SparkSession spark, LoadedConfig config) {
        return run(spark, config, null);
    }

    /** As {@link #run(SparkSession, LoadedConfig)}, with a test's {@code fault} injected (null for none). */
    public static TrainingOutcome run(SparkSession spark, LoadedConfig config, FaultInjection fault) {
        JobConfig job = config.job();
        checkInputs(job);
        SparkContext sc = spark.sparkContext();
        List<String> problems = ClusterPreflight.configurationProblems(sc.getConf(), job.dist());
        if (!problems.isEmpty()) {
            throw new IllegalStateException(String.join("\n", problems));
        }
        String warning = ClusterPreflight.barrierTimeoutWarning(sc.getConf());
        if (warning != null) {
            LOG.warn(warning);
        }
        int world = job.dist().worldSize();
        ClusterPreflight.awaitSlots(sc, world, SLOT_WAIT);

        String runName = new org.apache.hadoop.fs.Path(job.train().outputDir()).getName();
        try (ProgressServer progress = ProgressServer.start(runName, sc.getConf().get("spark.driver.host"))) {
            sc.setJobGroup("sparktune-train-" + UUID.randomUUID(), "sparktune train " + runName + ": " + world
                    + " ranks, output " + job.train().outputDir(), true);
            List<RankOutcome> outcomes;
            try {
                RDD<Integer> ranks = new JavaSparkContext(sc)
                        .parallelize(IntStream.range(0, world).boxed().toList(), world).rdd();
                RDD<RankOutcome> trained = ranks.barrier().mapPartitions(
                        new RankTask(config.toYaml(), config.source(), progress.target(), fault), false,
                        ClassTag$.MODULE$.apply(RankOutcome.class));
                outcomes = new ArrayList<>(trained.toJavaRDD().repartition(1).collect());
            } finally {
                sc.clearJobGroup();
            }
            RankOutcome first = outcomes.stream().filter(o -> o.rank() == 0).findFirst()
                    .orElseThrow(() -> new IllegalStateException("rank 0 returned no outcome"));
            int attempts = 1 + outcomes.stream().mapToInt(RankOutcome::stageAttempt).max().orElse(0);
            LOG.info("run {}: {} steps, last loss {}, checkpoint {} ({} stage attempt{})", runName, first.steps(),
                    first.lastLoss(), first.checkpoint(), attempts, attempts == 1 ? "" : "s");
            return new TrainingOutcome(first.steps(), first.lastLoss(), first.checkpoint(), first.resumedFrom(), first.export(),
                    attempts,
                    progress.received());
        }
    }

    /** Fails, naming the key to set, when the job lacks what training needs; no Spark is needed for this check. */
    public static void checkInputs(JobConfig job) {
        if (job.model().modelNameOrPath() == null) {
            throw new IllegalArgumentException("model.model_name_or_path is not set: name the model folder to fine-tune");
        }
        if (job.data().tokenizedPath() == null) {
            throw new IllegalArgumentException("data.tokenized_path is not set: train reads the tokenized Parquet that"
                    + " `sparktune prep` writes there");
        }
    }
}
