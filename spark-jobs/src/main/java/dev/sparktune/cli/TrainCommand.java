package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.training.ClusterPreflight;
import dev.sparktune.training.TrainingJob;
import dev.sparktune.training.TrainingOutcome;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sparktune train FILE}: data-parallel fine-tuning, one Spark barrier task per rank. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Fine-tune the job's model on Spark, one barrier task per rank.",
            "Trains model.model_name_or_path on data.tokenized_path with dist.world_size ranks, each a Spark",
            "barrier task; checkpoints go to train.output_dir (any Hadoop file system). A run continues from",
            "the newest complete checkpoint there. Runs on the Spark master spark-submit gives, or on local[*]."})
final class TrainCommand implements Callable<Integer> {
    /** The Spark settings training needs where the given Spark configuration does not set them. */
    static final Map<String, String> SESSION_DEFAULTS =
            Map.of(ClusterPreflight.BARRIER_TIMEOUT_KEY, ClusterPreflight.BARRIER_TIMEOUT);

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set train.output_dir=hdfs:///runs/lora-1 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Mixin
    PartitionOption partition = new PartitionOption();

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        LoadedConfig config;
        try {
            config = partition.load(file, overrides);
            TrainingJob.checkInputs(config.job());
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("train: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }

        try (CommandSession session = CommandSession.open("sparktune train " + file.getFileName(), SESSION_DEFAULTS)) {
            return train(session.spark(), config, spec.commandLine().getOut(), err);
        }
    }

    /**
     * Runs the training job of a config that passed {@link TrainingJob#checkInputs}, prints where it ended and
     * returns the exit code: 0, {@link ConfigProblems#INVALID} for a job the cluster or the inputs cannot run, or
     * {@link JobFailure#FAILED}. {@code sparktune run} calls it too, on a session opened with {@link #SESSION_DEFAULTS}.
     */
    static int train(SparkSession spark, LoadedConfig config, PrintWriter out, PrintWriter err) {
        try {
            TrainingOutcome outcome = TrainingJob.run(spark, config);
            if (Double.isNaN(outcome.lastLoss())) {
                out.printf("Nothing left to train: %s had already reached step %,d; final checkpoint %s%n",
                        config.job().train().outputDir(), outcome.steps(), outcome.checkpoint());
            } else {
                out.printf("Trained to step %,d (last loss %.4f); final checkpoint %s%n", outcome.steps(),
                        outcome.lastLoss(), outcome.checkpoint());
            }
            out.flush();
            return 0;
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("train: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        } catch (Exception e) {
            // a rank failed in every attempt of the stage, and the rank's own error says what went wrong
            return JobFailure.report(err, "train: the training stage failed in every attempt", e);
        }
    }
}
