package dev.sparktune.report;

import dev.sparktune.eval.TaskMetrics;
import dev.sparktune.evaluation.EvalJob;
import dev.sparktune.prep.PrepReport;
import dev.sparktune.prep.StageCounts;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The report inputs of a small spam-vs-ham run, written by the code that writes them in a real run: the training log
 * by {@link MetricsLog}, the evaluation results by {@link TaskMetrics} and {@link EvalJob#resultsJson}, the prep report
 * by {@link PrepReport#toJson}.
 */
public final class SmallRun {
    static final int STEPS = 200;
    static final int LOG_EVERY = 5;
    static final int VALIDATE_EVERY = 50;
    /** Test rows: 120 ham and 80 spam, with 3 spam taken for ham and 2 ham for spam. */
    static final List<String> REFERENCES = new ArrayList<>();
    static final List<String> PREDICTIONS = new ArrayList<>();

    static {
        for (int i = 0; i < 120; i++) {
            REFERENCES.add("ham");
            PREDICTIONS.add(i < 2 ? "spam" : "ham");
        }
        for (int i = 0; i < 80; i++) {
            REFERENCES.add("spam");
            PREDICTIONS.add(i < 3 ? "ham" : "spam");
        }
    }

    static final Baseline BASELINE = baseline();

    static final Map<String, String> TIMINGS = timings();

    private SmallRun() {
    }

    /** Writes {@code prepared/_report.json}, {@code output/metrics.jsonl} and {@code output/eval/eval_results.json}. */
    public static RunReport.Inputs write(Path dir) throws IOException {
        Path prepReport = dir.resolve("prepared").resolve(PrepReport.FILE);
        Path metrics = dir.resolve("output").resolve(MetricsLog.FILE);
        Path evalResults = dir.resolve("output").resolve("eval").resolve(EvalJob.RESULTS_FILE);
        writePrepReport(prepReport);
        writeMetrics(metrics);
        writeEvalResults(evalResults);
        return new RunReport.Inputs(prepReport.toUri().toString(), metrics.toUri().toString(),
                evalResults.toUri().toString());
    }

    static void writePrepReport(Path file) throws IOException {
        Map<String, Long> histogram = new LinkedHashMap<>();
        histogram.put("64", 700L);
        histogram.put("128", 1100L);
        PrepReport report = new PrepReport(List.of("spam_assassin"), null,
                List.of(new StageCounts("ingest", 2000, 1990, 10), new StageCounts("clean", 1990, 1960, 30),
                        new StageCounts("dedup", 1960, 1800, 160), new StageCounts("split", 1800, 1800, 0)),
                1800, 200, Map.of("train", 1600L, "validation", 200L), histogram,
                Map.of("train", 1600L, "validation", 200L), null, null);
        Files.createDirectories(file.getParent());
        Files.writeString(file, report.toJson());
    }

    /** A loss falling from ln 2 with noise, a learning rate warming up then decaying, validation every 50 steps. */
    static void writeMetrics(Path file) {
        Random random = new Random(7);
        try (MetricsLog log = MetricsLog.create(file)) {
            for (int step = LOG_EVERY; step <= STEPS; step += LOG_EVERY) {
                double progress = step / (double) STEPS;
                double loss = 0.69 * Math.exp(-3 * progress) + 0.03 + 0.02 * random.nextDouble();
                double lr = step <= 20 ? 2e-4 * step / 20 : 2e-4 * (STEPS - step) / (STEPS - 20);
                Map<String, Double> validation = new LinkedHashMap<>();
                if (step % VALIDATE_EVERY == 0) {
                    validation.put("validation", loss + 0.02);
                    validation.put("validation/spam/loss", loss + 0.02);
                    validation.put("validation/spam/accuracy", 0.80 + 0.17 * progress);
                    validation.put("validation/spam/f1", 0.75 + 0.21 * progress);
                }
                log.write(new StepMetrics(step, loss, Map.of(), lr, 1.0 - 0.5 * progress, 1200 + 10 * random.nextDouble(),
                        step * 0.9, step * 0.05, Map.of("spam", step * 32L), validation));
            }
        }
    }

    static void writeEvalResults(Path file) throws IOException {
        Map<String, Object> spam = new LinkedHashMap<>();
        spam.put("model", "FineTunedModel(spam)");
        spam.put("rows", REFERENCES.size());
        spam.putAll(TaskMetrics.classification(REFERENCES, PREDICTIONS, List.of("accuracy", "f1")));
        Files.createDirectories(file.getParent());
        Files.writeString(file, EvalJob.resultsJson("the validation split of data.prepared_path prepared",
                List.of("accuracy", "f1"), Map.of("spam", spam)));
    }

    private static Baseline baseline() {
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("accuracy", 0.95);
        metrics.put("spam_precision", 0.93);
        metrics.put("spam_recall", 0.90);
        metrics.put("spam_f1", 0.915);
        return new Baseline("TF-IDF + logistic regression", metrics);
    }

    private static Map<String, String> timings() {
        Map<String, String> timings = new LinkedHashMap<>();
        timings.put("prep", "41.2 s");
        timings.put("train", "3 min 05 s");
        timings.put("eval", "12.0 s");
        timings.put("export", "not set, skipped");
        return timings;
    }
}
