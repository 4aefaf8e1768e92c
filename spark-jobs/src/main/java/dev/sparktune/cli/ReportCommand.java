package dev.sparktune.cli;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.JobConfig;
import dev.sparktune.report.Baseline;
import dev.sparktune.report.ReportPage;
import dev.sparktune.report.RunReport;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code sparktune report FILE}: the run's {@code report.html} from the files prep, train and eval left; no Spark. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Write report.html with charts of a run's prep counts, training curves and evaluation.",
            "Reads <data.prepared_path>/_report.json, <train.output_dir>/metrics.jsonl and",
            "<train.output_dir>/eval/eval_results.json, those that exist, and the step times sparktune run",
            "recorded in <train.output_dir>/_run/; writes report.html, and its PNG charts in report/, to --out.",
            "The page refers to nothing outside that folder, so it opens offline. Runs without Spark."})
final class ReportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set train.output_dir=out/run2 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Mixin
    PartitionOption partition = new PartitionOption();

    @Option(names = "--out", paramLabel = "DIR", description = "where report.html goes (default: train.output_dir)")
    String outDir;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        JobConfig job;
        try {
            job = partition.load(file, overrides).job();
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("report: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
        Configuration conf = new Configuration();
        return write(job, file.getFileName().toString(), recordedTimings(job, conf),
                outDir != null ? outDir : job.train().outputDir(), conf, spec.commandLine().getOut(), err);
    }

    /** The wall time of each step {@code sparktune run} finished for {@code job}, as its markers recorded it. */
    static Map<String, String> recordedTimings(JobConfig job, Configuration conf) {
        StepMarkers markers = new StepMarkers(job.train().outputDir(), conf);
        Map<String, String> timings = new LinkedHashMap<>();
        for (RunStep step : RunStep.values()) {
            Duration took = markers.took(step);
            if (took != null) {
                timings.put(step.label(), RunCommand.format(took));
            }
        }
        return timings;
    }

    /**
     * Writes the report of {@code job}'s files to {@code dir}, prints where and what was left out, and returns the
     * exit code: 0, or {@link JobFailure#FAILED} when it cannot be written. {@code sparktune run} calls it too.
     */
    static int write(JobConfig job, String title, Map<String, String> timings, String dir, Configuration conf,
                     PrintWriter out, PrintWriter err) {
        return write(job, title, timings, null, dir, conf, out, err);
    }

    /** As {@link #write(JobConfig, String, Map, String, Configuration, PrintWriter, PrintWriter)}, beside a baseline. */
    static int write(JobConfig job, String title, Map<String, String> timings, Baseline baseline, String dir,
                     Configuration conf, PrintWriter out, PrintWriter err) {
        try {
            RunReport report = RunReport.read(title, RunReport.Inputs.of(job, conf), conf).withTimings(timings);
            if (baseline != null) {
                report = report.withBaseline(baseline);
            }
            ReportPage.Page page = report.write(dir, conf);
            report.notes().forEach(note -> out.println("report: " + note));
            out.printf("Report: %s/%s (%d chart%s)%n", dir, RunReport.PAGE, page.images().size(),
                    page.images().size() == 1 ? "" : "s");
            out.flush();
            return 0;
        } catch (UncheckedIOException e) {
            err.println("report: " + e.getMessage());
            err.flush();
            return JobFailure.FAILED;
        }
    }
}
