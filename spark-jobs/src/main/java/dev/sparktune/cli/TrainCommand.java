package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sparktune train FILE}: data-parallel fine-tuning, one Spark barrier task per rank. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Fine-tune model.model_name_or_path on data.tokenized_path with dist.world_size ranks, each a",
            "Spark barrier task; checkpoints go to train.output_dir (any Hadoop file system). A run continues from",
            "the newest complete checkpoint there. Runs on the Spark master spark-submit gives, or on local[*]."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set train.output_dir=hdfs:///runs/lora-1 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        LoadedConfig config;
        try {
            config = ConfigLoader.load(file, overrides);
            TrainingJob.checkInputs(config.job());
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("train: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }

        try (CommandSession session = CommandSession.open("sparktune train " + file.getFileName(),
                Map.of(ClusterPreflight.BARRIER_TIMEOUT_KEY, ClusterPreflight.BARRIER_TIMEOUT))) {
            return train(session.spark(), config, err);
        }
    }

    private int train(SparkSession spark, LoadedConfig config, PrintWriter err) {
        try {
            TrainingOutcome outcome = TrainingJob.run(spark, config);
            PrintWriter out = spec.commandLine().getOut();
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
