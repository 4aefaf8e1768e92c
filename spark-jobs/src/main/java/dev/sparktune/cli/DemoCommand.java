package dev.sparktune.cli;

import static org.apache.spark.sql.functions.col;

import com.google.gson.GsonBuilder;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.baseline.TfIdfBaseline;
import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.demo.DemoJob;
import dev.sparktune.demo.DemoMetrics;
import dev.sparktune.demo.SpamAssassinCorpus;
import dev.sparktune.evaluation.EvalJob;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.prep.PrepReport;
import dev.sparktune.prep.PreparedOutput;
import dev.sparktune.report.Baseline;
import dev.sparktune.report.EvalResults;
import dev.sparktune.rows.PrepRows;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sparktune demo}: the whole product on real data in one command. The SpamAssassin corpus and
 * all-MiniLM-L6-v2 (from the package registries the build already uses), then {@code conf/examples/spam-assassin-demo.yaml}
 * run as {@code sparktune run} runs it (prep, train, eval on the held-out test split, export), the adapter exported
 * beside the merged model when the method left one, a TF-IDF logistic regression on the same split for comparison,
 * {@code metrics.json} and {@code report.html}.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Fine-tune a spam filter on the SpamAssassin corpus, end to end, and compare it with MLlib.",
            "Fetches the corpus (npm pack) and imports all-MiniLM-L6-v2 (Maven) into --cache, then runs",
            "conf/examples/spam-assassin-demo.yaml with its paths under --out: prep, training on 2 ranks,",
            "evaluation on the held-out test split, export; fits Spark MLlib's TF-IDF logistic",
            "regression on the same split, and writes metrics.json, report.html and job.yaml to --out.",
            "Rerunning it skips the steps already done."})
final class DemoCommand implements Callable<Integer> {
    static final String METRICS_FILE = "metrics.json";
    private static final String BASELINE = "TF-IDF + logistic regression (Spark MLlib)";
    private static final String SPAM_TASK = "spam_filter";

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", description = "where everything goes (default: ${DEFAULT-VALUE})")
    Path out = Path.of("sparktune-demo");

    @Option(names = "--data", paramLabel = "DIR",
            description = "the unpacked corpus (its package/data folder or that folder's parent) instead of fetching it")
    Path data;

    @Option(names = "--cache", paramLabel = "DIR",
            description = "where the corpus and the model are kept between runs (default: ${DEFAULT-VALUE})")
    Path cache = defaultCache();

    @Option(names = "--translator", paramLabel = "URL",
            description = "an Apertium server (APY) to back-translate half the training e-mails through")
    String translator;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key of the demo's job, e.g. --set train.num_train_epochs=1 (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() throws IOException, InterruptedException {
        PrintWriter console = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        Path corpus;
        try {
            corpus = data != null ? SpamAssassinCorpus.dataFolder(data)
                    : SpamAssassinCorpus.fetched(cache.resolve("spam-assassin"), say(console));
        } catch (IllegalArgumentException | IOException e) {
            err.println("demo: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
        Path model = cache.resolve("models").resolve("all-MiniLM-L6-v2");
        if (!Files.isRegularFile(model.resolve(ModelDirectory.CONFIG_FILE))) {
            say(console).say("Importing all-MiniLM-L6-v2 from its Maven artifact into " + model);
            ImportOnnxCommand.importMiniLm(model);
        }
        DemoJob.Layout layout = new DemoJob.Layout(out);
        LoadedConfig config;
        LoadedConfig adapterExport;
        try {
            config = DemoJob.write(layout, corpus, model, translator, overrides);
            adapterExport = ConfigLoader.parse(config.toYaml(), DemoJob.JOB_FILE,
                    List.of("export.export_type=adapter", "export.export_dir=" + layout.adapter()));
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, Path.of(DemoJob.JOB_FILE));
        }
        say(console).say("Corpus " + corpus + ", model " + model + "; the job is " + layout.out().resolve(DemoJob.JOB_FILE));

        try (CommandSession session = CommandSession.open("sparktune demo", TrainCommand.SESSION_DEFAULTS)) {
            SparkSession spark = session.spark();
            int code = RunCommand.run(spark, config, null, List.of(RunStep.values()), console, err);
            if (code != 0) {
                return code;
            }
            if (Files.isRegularFile(layout.run().resolve("adapter").resolve(PeftFormat.CONFIG_FILE))) {
                code = ExportCommand.export(adapterExport.job(), adapterExport.job().export().exportSize()
                        * ExportCommand.BYTES_PER_GB, console, err);
                if (code != 0) {
                    return code;
                }
            } else {
                say(console).say("No adapter to export: method.finetuning_type " + config.job().method().finetuningType()
                        + " trains whole layers, so " + layout.merged() + " is the trained model");
            }
            say(console).say("Baseline: " + BASELINE);
            long baselineStart = System.nanoTime();
            EvalResults.Task baselineTask = baseline(spark, layout);
            Duration baselineTook = Duration.ofNanos(System.nanoTime() - baselineStart);
            Map<String, Double> baseline = DemoMetrics.headline(baselineTask);

            EvalResults.Task evaluation = onlyTask(layout.run().resolve("eval").resolve(EvalJob.RESULTS_FILE));
            PrepReport prep = PrepReport.fromJson(Files.readString(layout.prepared().resolve(PrepReport.FILE)));
            Map<String, Object> split = new LinkedHashMap<>(prep.splits());
            split.put("test_majority_share", DemoMetrics.majorityShare(evaluation));
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("test", DemoMetrics.headline(evaluation));
            results.put("baseline", baseline);
            results.put("split", split);
            results.put("leakage", prep.leakage());
            results.put("wall_time_seconds", Duration.ofNanos(System.nanoTime() - start).toSeconds());
            Path metrics = layout.out().resolve(METRICS_FILE);
            Files.writeString(metrics, new GsonBuilder().setPrettyPrinting().create().toJson(results) + "\n");

            Configuration conf = spark.sparkContext().hadoopConfiguration();
            Map<String, String> timings = ReportCommand.recordedTimings(config.job(), conf);
            timings.put("baseline", RunCommand.format(baselineTook));
            timings.put("whole demo", RunCommand.format(Duration.ofNanos(System.nanoTime() - start)));
            code = ReportCommand.write(config.job(), "sparktune demo", timings, new Baseline(BASELINE, baseline),
                    layout.out().toString(), conf, console, err);
            print(console, results, metrics);
            return code;
        }
    }

    /**
     * The baseline fitted and tested, its results written as {@code sparktune eval} writes a model's
     * ({@code <out>/baseline/eval_results.json}) and read back the same way.
     */
    private static EvalResults.Task baseline(SparkSession spark, DemoJob.Layout layout) throws IOException {
        Dataset<Row> prepared = spark.read().parquet(layout.prepared().toString());
        Path testSplit = layout.prepared().resolve(PreparedOutput.TEST_DIR);
        Dataset<Row> test = spark.read().parquet(testSplit.toString());
        Map<String, Object> metrics = TfIdfBaseline.fitAndTest(
                prepared.where(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TRAIN)), test);
        Path file = Files.createDirectories(layout.out().resolve("baseline")).resolve(EvalJob.RESULTS_FILE);
        Files.writeString(file, EvalJob.resultsJson(BASELINE + " on " + testSplit, List.of("accuracy", "f1"),
                Map.of(SPAM_TASK, metrics)));
        return onlyTask(file);
    }

    /** The one task of an {@code eval_results.json}: the demo's job has one, the spam filter. */
    private static EvalResults.Task onlyTask(Path file) throws IOException {
        EvalResults results = EvalResults.fromJson(Files.readString(file));
        if (results.tasks().size() != 1) {
            throw new IllegalStateException(file + " should hold one task, the spam filter; it holds "
                    + results.tasks().keySet());
        }
        return results.tasks().values().iterator().next();
    }

    private static void print(PrintWriter console, Map<String, Object> results, Path metrics) {
        @SuppressWarnings("unchecked")
        Map<String, Double> tuned = (Map<String, Double>) results.get("test");
        @SuppressWarnings("unchecked")
        Map<String, Double> baseline = (Map<String, Double>) results.get("baseline");
        console.println();
        console.printf("Held-out test split      %-10s %-10s%n", "fine-tuned", "TF-IDF+LR");
        tuned.forEach((name, value) -> console.printf("  %-22s %-10.4f %-10.4f%n", name, value, baseline.get(name)));
        Map<?, ?> leakage = (Map<?, ?>) results.get("leakage");
        if (leakage != null) {
            console.printf("Leakage check: of %d test rows, %d have an exact and %d a near copy in the training split%n",
                    count(leakage, "test_rows"), count(leakage, "exact"), count(leakage, "near"));
        }
        console.printf("Wall time: %s%n", RunCommand.format(Duration.ofSeconds((Long) results.get("wall_time_seconds"))));
        console.println("Metrics: " + metrics);
        console.flush();
    }

    private static long count(Map<?, ?> map, String key) {
        return ((Number) map.get(key)).longValue();
    }

    private static SpamAssassinCorpus.Progress say(PrintWriter console) {
        return line -> {
            console.println(line);
            console.flush();
        };
    }

    /** {@code $XDG_CACHE_HOME/sparktune}, else {@code ~/.cache/sparktune}. */
    static Path defaultCache() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        return (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache"))
                .resolve("sparktune");
    }
}
