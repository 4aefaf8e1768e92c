package dev.sparktune.training;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.dist.RingEncryption;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.io.HadoopFiles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
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
    /** The local properties behind {@code setJobGroup}, restored afterwards so a caller's own group survives. */
    private static final String JOB_GROUP_ID = "spark.jobGroup.id";
    private static final String JOB_DESCRIPTION = "spark.job.description";
    private static final String JOB_INTERRUPT_ON_CANCEL = "spark.job.interruptOnCancel";
    /** How long the driver waits, after the stage, for progress lines still in flight. */
    static final Duration PROGRESS_DRAIN = Duration.ofSeconds(5);

    private TrainingJob() {
    }

    public static TrainingOutcome run(SparkSession spark, LoadedConfig config) {
        return run(spark, config, null);
    }

    /** As {@link #run(SparkSession, LoadedConfig)}, with a test's {@code fault} injected (null for none). */
    public static TrainingOutcome run(SparkSession spark, LoadedConfig given, FaultInjection fault) {
        return run(spark, given, fault, null);
    }

    /**
     * As {@link #run(SparkSession, LoadedConfig, FaultInjection)}, telling a test's {@code watch} (null for none)
     * where the job's sockets listen.
     */
    public static TrainingOutcome run(SparkSession spark, LoadedConfig given, FaultInjection fault,
                                      ListenerWatch watch) {
        checkInputs(given.job());
        SparkContext sc = spark.sparkContext();
        LoadedConfig config = qualified(given, sc.hadoopConfiguration());
        JobConfig job = config.job();
        List<String> problems = ClusterPreflight.configurationProblems(sc.getConf());
        if (!problems.isEmpty()) {
            throw new IllegalStateException(String.join("\n", problems));
        }
        String warning = ClusterPreflight.barrierTimeoutWarning(sc.getConf());
        if (warning != null) {
            LOG.warn(warning);
        }
        RingEncryption ringEncryption = RingEncryptionSetting.resolve(job.dist(), sc.getConf());
        String plainRing = RingEncryptionSetting.plainRingWarning(ringEncryption, sc.getConf());
        if (plainRing != null) {
            LOG.warn(plainRing);
        } else {
            LOG.info("dist.ring_encryption: {}", ringEncryption.configName());
        }
        int world = job.dist().worldSize();
        TrainingInputs inputs = TrainingInputs.read(job, sc.hadoopConfiguration(), datasetTasks(job,
                sc.hadoopConfiguration()));
        LOG.info("run {}: tasks {}{}", job.train().outputDir(), inputs.tasks().stream().map(TrainingInputs.Task::name)
                .toList(), inputs.validation().isEmpty() ? ", no validation split" : ", validation tasks "
                + inputs.validation().stream().map(TrainingInputs.Task::name).toList());
        ClusterPreflight.awaitSlots(sc, world, SLOT_WAIT);

        String runName = new org.apache.hadoop.fs.Path(job.train().outputDir()).getName();
        try (ProgressServer progress = ProgressServer.start(runName, sc.getConf())) {
            if (watch != null && progress.target() != null) {
                watch.progressServerListening(progress.target().host(), progress.target().port());
            }
            String previousGroup = sc.getLocalProperty(JOB_GROUP_ID);
            String previousDescription = sc.getLocalProperty(JOB_DESCRIPTION);
            String previousInterrupt = sc.getLocalProperty(JOB_INTERRUPT_ON_CANCEL);
            sc.setJobGroup("sparktune-train-" + UUID.randomUUID(), "sparktune train " + runName + ": " + world
                    + " ranks, output " + job.train().outputDir(), true);
            List<RankOutcome> outcomes;
            try {
                RDD<Integer> ranks = new JavaSparkContext(sc)
                        .parallelize(IntStream.range(0, world).boxed().toList(), world).rdd();
                RDD<RankOutcome> trained = ranks.barrier().mapPartitions(
                        new RankTask(config.toYaml(), config.source(), inputs, ringEncryption, progress.target(), fault,
                                watch), false,
                        ClassTag$.MODULE$.apply(RankOutcome.class));
                outcomes = new ArrayList<>(trained.toJavaRDD().repartition(1).collect());
            } finally {
                sc.setLocalProperty(JOB_GROUP_ID, previousGroup);
                sc.setLocalProperty(JOB_DESCRIPTION, previousDescription);
                sc.setLocalProperty(JOB_INTERRUPT_ON_CANCEL, previousInterrupt);
            }
            RankOutcome first = outcomes.stream().filter(o -> o.rank() == 0).findFirst()
                    .orElseThrow(() -> new IllegalStateException("rank 0 returned no outcome"));
            int attempts = 1 + outcomes.stream().mapToInt(RankOutcome::stageAttempt).max().orElse(0);
            LOG.info("run {}: {} steps, last loss {}, checkpoint {} ({} stage attempt{})", runName, first.steps(),
                    first.lastLoss(), first.checkpoint(), attempts, attempts == 1 ? "" : "s");
            return new TrainingOutcome(first.steps(), first.lastLoss(), first.checkpoint(), first.resumedFrom(),
                    first.export(), FinalExport.wholeModel(job.method().finetuningType()), attempts,
                    progress.awaitLastUpdates(PROGRESS_DRAIN));
        }
    }

    /**
     * The config with every location qualified against the driver's file systems, so that a path without a scheme
     * means the same on every executor ({@code fs.defaultFS}: HDFS on YARN, the local disk locally).
     */
    public static LoadedConfig qualified(LoadedConfig config, Configuration hadoop) {
        JobConfig job = config.job();
        List<String> overrides = new ArrayList<>();
        overrides.add("model.model_name_or_path=" + HadoopFiles.qualify(job.model().modelNameOrPath(), hadoop));
        overrides.add("data.tokenized_path=" + HadoopFiles.qualify(job.data().tokenizedPath(), hadoop));
        overrides.add("train.output_dir=" + HadoopFiles.qualify(job.train().outputDir(), hadoop));
        if (job.train().resumeFromCheckpoint() != null) {
            overrides.add("train.resume_from_checkpoint="
                    + HadoopFiles.qualify(job.train().resumeFromCheckpoint(), hadoop));
        }
        return ConfigLoader.parse(config.toYaml(), config.source(), overrides);
    }


    /**
     * Each dataset of {@code data.dataset} to its task, from the dataset registry, when per-dataset
     * {@code interleave_probs} must become per-task ones; empty otherwise (nothing to map).
     */
    static Map<String, String> datasetTasks(JobConfig job, Configuration hadoop) {
        if (job.data().interleaveProbs().isEmpty() || job.data().dataset().isEmpty()) {
            return Map.of();
        }
        return DatasetRegistry.load(DatasetRegistry.location(job.data()), hadoop).tasks(job.data().dataset());
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
