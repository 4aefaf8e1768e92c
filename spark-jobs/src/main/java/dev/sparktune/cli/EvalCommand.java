package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.JobConfig;
import dev.sparktune.evaluation.EvalJob;
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

/** {@code sparktune eval FILE}: batch inference on Spark with the trained model, and each task's metrics. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate the trained model on the held-out rows, on Spark.",
            "Evaluates the model in train.output_dir on the test split of data.prepared_path when data.test_size is",
            "above 0, else on its validation split (or --split, or --input):",
            "classification tasks are scored, SFT tasks completed with the generation section's",
            "settings; writes predictions/ and eval_results.json (eval.metrics per task) to <output_dir>/eval."})
final class EvalCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set generation.max_new_tokens=64 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Mixin
    PartitionOption partition = new PartitionOption();

    @Option(names = "--input", paramLabel = "PATH",
            description = "prepared Parquet to evaluate, every row (default: a split of data.prepared_path)")
    String input;

    @Option(names = "--split", paramLabel = "validation|test",
            description = "the split of data.prepared_path to evaluate (default: test when data.test_size > 0,"
                    + " else validation)")
    String split;

    @Option(names = "--dataset", paramLabel = "NAME", description = "only this dataset's rows (repeatable)")
    List<String> datasets = new ArrayList<>();

    @Option(names = "--output", paramLabel = "DIR", description = "where results go (default: <train.output_dir>/eval)")
    String output;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        JobConfig job;
        EvalJob.Request request;
        try {
            job = partition.load(file, overrides).job();
            request = new EvalJob.Request(input, datasets, output, split);
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("eval: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
        try (CommandSession session = CommandSession.open("sparktune eval " + file.getFileName(), Map.of())) {
            return eval(session.spark(), job, request, spec.commandLine().getOut(), err);
        }
    }

    /**
     * Runs the evaluation, prints each task's headline metrics and returns the exit code: 0,
     * {@link ConfigProblems#INVALID} for a job that cannot be evaluated as configured, or {@link JobFailure#FAILED}.
     * {@code sparktune run} calls it too.
     */
    static int eval(SparkSession spark, JobConfig job, EvalJob.Request request, PrintWriter out, PrintWriter err) {
        try {
            EvalJob.Outcome outcome = EvalJob.run(spark, job, request);
            outcome.tasks().forEach((task, metrics) -> out.println(task + ": " + summary(metrics)));
            out.println("Results: " + outcome.resultsFile());
            out.flush();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("eval: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        } catch (Exception e) {
            return JobFailure.report(err, "eval: the evaluation failed", e);
        }
    }

    /** The headline numbers of one task's results, e.g. {@code 120 rows, accuracy 0.9750, f1 0.9702}. */
    private static String summary(Map<String, Object> metrics) {
        List<String> parts = new ArrayList<>();
        if (metrics.containsKey("rows")) {
            parts.add(metrics.get("rows") + " rows");
        }
        for (String key : List.of("accuracy", "f1", "exact_match", "perplexity")) {
            if (metrics.get(key) instanceof Double d) {
                parts.add(String.format("%s %.4f", key, d));
            }
        }
        for (String key : List.of("bleu", "chrf")) {
            if (metrics.get(key) instanceof Map<?, ?> score) {
                parts.add(String.format("%s %.2f", key, (Double) score.get("score")));
            }
        }
        if (metrics.get("rouge") instanceof Map<?, ?> rouge && rouge.get("rougeL") instanceof Map<?, ?> l) {
            parts.add(String.format("rougeL %.4f", (Double) l.get("fmeasure")));
        }
        return parts.isEmpty() ? "no metric applies" : String.join(", ", parts);
    }
}
