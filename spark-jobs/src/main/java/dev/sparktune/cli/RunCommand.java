package dev.sparktune.cli;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.evaluation.EvalJob;
import dev.sparktune.io.FolderCommit;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.prep.PartitionSpec;
import dev.sparktune.prep.PrepJob;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.training.TrainingJob;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sparktune run FILE}: prep, train, eval and export of one job YAML in one Spark session, each step the same
 * job its own command runs, each skipped when {@link StepMarkers} says it already succeeded on the same inputs and
 * its output is still there. A scheduler's retry thus resumes at the first unfinished step (and training at its
 * newest checkpoint), and a finished run reruns doing nothing.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run prep, train, eval and export of one job YAML, skipping the steps already done.",
            "Each step is the job its own command runs, all in one Spark session. A step is",
            "skipped when its marker in <train.output_dir>/_run/ holds the fingerprint of its",
            "inputs (the config sections it reads, the step before it, and for prep the data",
            "and model files) and its output is there: a changed key reruns the step that",
            "reads it and every step after. export is skipped, with a message, when",
            "export.export_dir is not set. With --partition dt=2026-11-28, every output path",
            "(prepared, tokenized, train.output_dir, export.export_dir) gains /dt=2026-11-28:",
            "each day's run has its own folders and markers, and the other days' stay.",
            "Exits with 0, 2 (invalid config or input) or 1 (a step failed), as the step",
            "commands do; the steps after a failed one do not run."})
final class RunCommand implements Callable<Integer> {
    /** How often a long Spark stage prints its progress (tasks done, rows read and written). */
    private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(15);

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set train.learning_rate=1.0e-4 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--steps", paramLabel = "STEP", split = ",", completionCandidates = RunStep.Labels.class,
            description = "run only these steps, in pipeline order: ${COMPLETION-CANDIDATES} (default: all)")
    List<String> steps = new ArrayList<>();

    @Mixin
    PartitionOption partition = new PartitionOption();

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<RunStep> selected = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (String name : steps) {
            RunStep step = RunStep.of(name);
            if (step == null) {
                unknown.add(name);
            } else if (!selected.contains(step)) {
                selected.add(step);
            }
        }
        if (!unknown.isEmpty()) {
            err.println("run: unknown step" + (unknown.size() == 1 ? " " : "s ") + String.join(", ", unknown)
                    + " in --steps; the steps are " + String.join(", ", new RunStep.Labels()));
            err.flush();
            return ConfigProblems.INVALID;
        }
        if (selected.isEmpty()) {
            selected.addAll(List.of(RunStep.values()));
        }
        selected.sort(null);

        LoadedConfig config;
        PartitionSpec partitionSpec;
        try {
            partitionSpec = partition.spec();
            config = ConfigLoader.load(file, overrides);
            if (selected.contains(RunStep.PREP)) {
                PrepJob.checkConfig(config.job().data());
            }
            if (selected.contains(RunStep.TRAIN)) {
                TrainingJob.checkInputs(config.job());
            }
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("run: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }

        try (CommandSession session = CommandSession.open("sparktune run " + file.getFileName(),
                TrainCommand.SESSION_DEFAULTS)) {
            return run(session.spark(), config, partitionSpec, selected, out, err);
        }
    }

    /**
     * Runs {@code selected} in pipeline order and returns the exit code; {@code sparktune demo} calls it too.
     *
     * @param partition the partition of every output path to run in ({@link PartitionedJob}), or null
     */
    static int run(SparkSession spark, LoadedConfig whole, PartitionSpec partition, List<RunStep> selected,
                   PrintWriter out, PrintWriter err) {
        LoadedConfig config = PartitionedJob.of(whole, partition);
        JobConfig job = config.job();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Map<RunStep, String> fingerprints = StepMarkers.fingerprints(config, conf);
        StepMarkers markers = new StepMarkers(job.train().outputDir(), conf);
        Map<RunStep, String> times = new LinkedHashMap<>();
        for (int i = 0; i < selected.size(); i++) {
            RunStep step = selected.get(i);
            String fingerprint = fingerprints.get(step);
            out.printf("[%d/%d] %s%n", i + 1, selected.size(), step.label());
            out.flush();
            long start = System.nanoTime();
            if (step == RunStep.EXPORT && job.export().exportDir() == null) {
                out.println("export: export.export_dir is not set, skipped (set it to write the trained model as a"
                        + " Hugging Face folder)");
                times.put(step, "not set, skipped");
                continue;
            }
            if (fingerprint.equals(markers.finished(step)) && outputsExist(step, job, conf)) {
                out.printf("%s: up to date (fingerprint %s…), skipped%n", step.label(), fingerprint.substring(0, 12));
                out.flush();
                times.put(step, "skipped");
                continue;
            }
            if (step == RunStep.TRAIN) {
                startTraining(markers, fingerprint, job, conf, out);
            }
            int code;
            try (StageProgress progress = StageProgress.attach(spark.sparkContext(), out, step.label(),
                    PROGRESS_INTERVAL)) {
                code = switch (step) {
                    case PREP -> PrepCommand.prep(spark, whole.job(), partition, out, err);
                    case TRAIN -> TrainCommand.train(spark, config, out, err);
                    case EVAL -> EvalCommand.eval(spark, job, new EvalJob.Request(null, List.of(), null, null),
                            out, err);
                    case EXPORT -> ExportCommand.export(job, job.export().exportSize() * ExportCommand.BYTES_PER_GB,
                            out, err);
                };
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            if (code != 0) {
                err.printf("run: %s failed (exit code %d) after %s; %s%n", step.label(), code, format(took),
                        i + 1 < selected.size() ? "the steps after it did not run" : "it was the last step");
                err.flush();
                return code;
            }
            markers.recordFinish(step, fingerprint, took);
            out.printf("%s: done in %s%n", step.label(), format(took));
            out.flush();
            times.put(step, format(took));
        }
        out.println("Steps:");
        times.forEach((step, time) -> out.printf("  %-7s %s%n", step.label(), time));
        out.flush();
        if (!outputsExist(RunStep.TRAIN, job, conf)) {
            return 0;
        }
        Map<String, String> timings = new LinkedHashMap<>();
        times.forEach((step, time) -> timings.put(step.label(), time));
        String title = config.source().substring(config.source().lastIndexOf('/') + 1);
        return ReportCommand.write(job, title, timings, job.train().outputDir(), conf, out, err);
    }

    /**
     * Before training: checkpoints in {@code output_dir} that a run on other inputs left (its recorded start
     * fingerprint differs) are removed, since training would otherwise resume from them; checkpoints of an attempt
     * on the same inputs are kept, and training continues from the newest. Checkpoints no run recorded (a
     * {@code sparktune train} before) are kept and resumed from, as {@code sparktune train} would.
     */
    private static void startTraining(StepMarkers markers, String fingerprint, JobConfig job, Configuration conf,
                                      PrintWriter out) {
        String started = markers.started(RunStep.TRAIN);
        if (started != null && !started.equals(fingerprint)) {
            List<String> stale = new TrainingCheckpoints(conf, HadoopFiles.qualify(job.train().outputDir(), conf),
                    job.train().saveTotalLimit()).complete();
            if (!stale.isEmpty()) {
                out.printf("train: the inputs changed since the checkpoints in %s were written (fingerprint %s…, now"
                        + " %s…); removing %d of them and training from the start%n", job.train().outputDir(),
                        started.substring(0, 12), fingerprint.substring(0, 12), stale.size());
                out.flush();
                // claimed like a stage attempt's writer: a writer still running from before (a rank 0 of a killed
                // driver's job) can no longer commit, and should one claim after this, the removal stops
                CheckpointFence fence = CheckpointFence.claim(new OutputFolder(conf, job.train().outputDir()), 0);
                for (String folder : stale) {
                    delete(folder, fence, conf);
                }
            }
        }
        markers.recordStart(RunStep.TRAIN, fingerprint);
    }

    /** Whether what {@code step} writes is still there (someone may have deleted it since the marker was written). */
    private static boolean outputsExist(RunStep step, JobConfig job, Configuration conf) {
        String output = job.train().outputDir();
        return switch (step) {
            case PREP -> committed(job.data().preparedPath(), conf)
                    && (!job.data().prep().tokenize() || job.model().modelNameOrPath() == null
                    || job.data().tokenizedPath() == null || committed(job.data().tokenizedPath(), conf));
            case TRAIN -> exists(output + "/adapter/" + PeftFormat.CONFIG_FILE, conf)
                    || exists(output + "/model/" + ModelDirectory.CONFIG_FILE, conf);
            case EVAL -> exists(output + "/eval/" + EvalJob.RESULTS_FILE, conf);
            case EXPORT -> exists(job.export().exportDir() + "/" + ExportReport.FILE, conf);
        };
    }

    /** Whether {@code location} is a complete committed prep output ({@link FolderCommit}). */
    private static boolean committed(String location, Configuration conf) {
        try {
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(HadoopFiles.qualify(location, conf));
            return FolderCommit.problem(path.getFileSystem(conf), path).isEmpty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for " + location + ": " + e.getMessage(), e);
        }
    }

    private static boolean exists(String location, Configuration conf) {
        try {
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(HadoopFiles.qualify(location, conf));
            return path.getFileSystem(conf).exists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for " + location + ": " + e.getMessage(), e);
        }
    }

    private static void delete(String location, CheckpointFence fence, Configuration conf) {
        try {
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(location);
            FileSystem fs = path.getFileSystem(conf);
            fence.check("remove the stale checkpoint " + location);
            if (fs.exists(path) && !fs.delete(path, true)) {
                throw new IOException("delete returned false");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the stale checkpoint " + location + ": " + e.getMessage(), e);
        }
    }

    /** {@code 4.2 s}, {@code 3 min 05 s}. */
    static String format(Duration took) {
        long seconds = took.toSeconds();
        return seconds < 60 ? String.format("%.1f s", took.toMillis() / 1000.0)
                : String.format("%d min %02d s", seconds / 60, seconds % 60);
    }
}
