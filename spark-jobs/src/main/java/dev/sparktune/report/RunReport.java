package dev.sparktune.report;

import dev.sparktune.config.JobConfig;
import dev.sparktune.evaluation.EvalJob;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.prep.PrepReport;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.StepMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A training run's {@code report.html}: what prep kept and rejected, the loss, learning-rate and validation curves,
 * the evaluation's metrics and confusion matrices, a baseline beside the fine-tuned model, and the run's timings.
 * Every input is optional: a section whose input is absent is left out, and one whose input cannot be read is left
 * out with the reason in {@link #notes()}. {@link #write} puts the page and its PNG charts in one folder; the page
 * refers to nothing outside it (no script, font, stylesheet or image from elsewhere), so it opens offline.
 *
 * @param title    the page's heading, e.g. the job file's name
 * @param prep     the prep report ({@code _report.json} in {@code data.prepared_path}); null when absent
 * @param training each logged step of {@code metrics.jsonl} in {@code train.output_dir}; empty when absent
 * @param eval     {@code eval_results.json} of {@code sparktune eval}; null when absent
 * @param baseline another model's numbers on the same test rows; null for none
 * @param timings  wall time of each step of the run, as shown (e.g. {@code prep -> 42.1 s}); empty for none
 * @param notes    inputs that could not be read, and why
 */
public record RunReport(String title, PrepReport prep, List<StepMetrics> training, EvalResults eval,
                        Baseline baseline, Map<String, String> timings, List<String> notes) {
    public static final String PAGE = "report.html";
    /** The folder beside the page that holds its charts. */
    public static final String CHARTS = "report";

    public RunReport {
        training = List.copyOf(training);
        timings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(timings));
        notes = List.copyOf(notes);
    }

    /** Where a job's report inputs are: the locations {@code sparktune prep}, {@code train} and {@code eval} write. */
    public record Inputs(String prepReport, String metricsLog, String evalResults) {
        public static Inputs of(JobConfig job, Configuration conf) {
            String output = HadoopFiles.qualify(job.train().outputDir(), conf);
            String prepared = HadoopFiles.qualify(job.data().preparedPath(), conf);
            return new Inputs(prepared == null ? null : new Path(prepared, PrepReport.FILE).toString(),
                    output == null ? null : new Path(output, MetricsLog.FILE).toString(),
                    // the folder sparktune eval writes to by default
                    output == null ? null : new Path(new Path(output, "eval"), EvalJob.RESULTS_FILE).toString());
        }
    }

    /** Reads the inputs there are at {@code inputs}' locations (a null location: that input is absent). */
    public static RunReport read(String title, Inputs inputs, Configuration conf) {
        List<String> notes = new ArrayList<>();
        PrepReport prep = readIfPresent(inputs.prepReport(), "the prep report", conf, notes,
                (fs, path) -> PrepReport.fromJson(HadoopFiles.readString(fs, path)));
        List<StepMetrics> training = readIfPresent(inputs.metricsLog(), "the training log", conf, notes,
                (fs, path) -> MetricsLog.read(conf, path.toString()));
        EvalResults eval = readIfPresent(inputs.evalResults(), "the evaluation results", conf, notes,
                (fs, path) -> EvalResults.fromJson(HadoopFiles.readString(fs, path)));
        return new RunReport(title, prep, training == null ? List.of() : training, eval, null, Map.of(), notes);
    }

    public RunReport withBaseline(Baseline baseline) {
        return new RunReport(title, prep, training, eval, baseline, timings, notes);
    }

    public RunReport withTimings(Map<String, String> timings) {
        return new RunReport(title, prep, training, eval, baseline, timings, notes);
    }

    /**
     * Writes {@code <dir>/report.html} and its charts in {@code <dir>/report/} on any Hadoop file system, replacing
     * an earlier report's charts (and nothing else there); returns what the page shows.
     */
    public ReportPage.Page write(String dir, Configuration conf) {
        ReportPage.Page page = ReportPage.render(this);
        Path folder = new Path(HadoopFiles.qualify(dir, conf));
        Path charts = new Path(folder, CHARTS);
        try {
            FileSystem fs = HadoopFiles.fileSystem(folder, conf);
            if (fs.exists(charts)) {
                for (FileStatus old : fs.listStatus(charts)) {
                    if (old.isFile() && ReportCharts.FILES.matcher(old.getPath().getName()).matches()) {
                        fs.delete(old.getPath(), false);
                    }
                }
            }
            fs.mkdirs(charts);
            for (ChartImage image : page.images()) {
                write(fs, new Path(charts, image.file()), image.png());
            }
            write(fs, new Path(folder, PAGE), page.html().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report to " + folder + ": " + e.getMessage(), e);
        }
        return page;
    }

    private static void write(FileSystem fs, Path file, byte[] bytes) throws IOException {
        try (FSDataOutputStream out = fs.create(file, true)) {
            out.write(bytes);
        }
    }

    private interface Reader<T> {
        T read(FileSystem fs, Path path) throws IOException;
    }

    /**
     * The input at {@code location} read, or null when there is none; one that cannot be read or parsed is noted and
     * left out, so that the report of a run that broke half-way still shows the rest.
     */
    private static <T> T readIfPresent(String location, String what, Configuration conf, List<String> notes,
                                       Reader<T> reader) {
        if (location == null) {
            return null;
        }
        try {
            Path path = new Path(location);
            FileSystem fs = HadoopFiles.fileSystem(path, conf);
            return fs.exists(path) ? reader.read(fs, path) : null;
        } catch (IOException | RuntimeException e) {
            notes.add("Left out " + what + ": " + location + " could not be read (" + e.getMessage() + ")");
            return null;
        }
    }
}
