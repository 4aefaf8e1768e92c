package dev.sparktune.bench;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;

/**
 * {@code sparktune bench scaling}: the same fine-tuning job of all-MiniLM-L6-v2 (a classification head, random
 * tokens; LoRA on every linear layer, and full fine-tuning) run by {@code sparktune train} on a {@code local-cluster}
 * twice, as one rank with every core's thread and as one rank per core with one thread each, on the same global
 * batch. Each run is a JVM of its own (a Spark driver whose executors are separate JVMs, as on a cluster); the figures
 * come from its rank 0's metrics file: seconds per step, tokens/s and the share of the step spent in collective
 * calls ({@link StepMetrics#communicationSeconds}), one sample per logging window after the first (which holds the
 * warm-up).
 */
public final class ScalingBench {
    private static final int ROW_GROUPS = 8;      // files of one row group each, which the ranks share out
    /** Ranks of the one-rank-per-core layout at most: each executor gets {@link #EXECUTOR_MEMORY_MB}. */
    private static final int MAX_RANKS = 4;
    private static final int EXECUTOR_MEMORY_MB = 3072;
    private static final long PROCESS_LIMIT_MINUTES = 30;

    /** How a run spreads the machine's cores: {@code ranks} executors of {@code threads} cores each. */
    public record Layout(int ranks, int threads) {
        public String name() {
            return String.format(Locale.ROOT, "%d rank%s x %d thread%s", ranks, ranks == 1 ? "" : "s", threads,
                    threads == 1 ? "" : "s");
        }
    }

    /**
     * One run's measurements, each a sample per logging window.
     *
     * @param communicationShare the share of the window's wall time rank 0 spent in collective calls
     */
    public record Result(String method, Layout layout, int globalBatch, int tokens, Samples secondsPerStep,
                         Samples communicationShare) {
        public Samples tokensPerSecond() {
            return secondsPerStep.map(s -> (double) globalBatch * tokens / s);
        }
    }

    private record Workload(int globalBatch, int tokens, int loggingSteps) {
    }

    private ScalingBench() {
    }

    /**
     * The cores both layouts spread over (the one-rank layout's threads, the other's ranks): this machine's, at least
     * 2 and at most {@link #MAX_RANKS}.
     */
    public static int cores() {
        return Math.min(Math.max(2, Runtime.getRuntime().availableProcessors()), MAX_RANKS);
    }

    /**
     * Runs every method on both layouts of {@link #cores()} cores and returns the results in pairs: for each method,
     * 1 rank x all threads, then one rank per core. The global batch is 16 rows per core (--quick: 2 rows of 32
     * tokens). {@code repeats} logging windows are measured in each run.
     */
    public static List<Result> run(Path miniLm, boolean quick, int repeats) throws IOException, InterruptedException {
        int cores = cores();
        Workload workload = quick ? new Workload(2 * cores, 32, 1) : new Workload(16 * cores, 128, 5);
        List<String> methods = quick ? List.of("lora") : List.of("lora", "full");
        Path scratch = Files.createTempDirectory("sparktune-bench-scaling");
        try {
            Path data = writeData(scratch.resolve("data"), workload, repeats + 1);
            Path sparkHome = Files.createDirectories(scratch.resolve("spark-home").resolve("jars")).getParent();
            List<Result> results = new ArrayList<>();
            for (String method : methods) {
                for (Layout layout : List.of(new Layout(1, cores), new Layout(cores, 1))) {
                    Path run = scratch.resolve(method + "-" + layout.ranks() + "x" + layout.threads());
                    Path job = writeJob(run, miniLm, data, method, layout, workload, repeats + 1);
                    train(job, layout, sparkHome, run.resolve("sparktune-train.log"));
                    results.add(measure(method, layout, workload, MetricsLog.read(run.resolve("output")
                            .resolve(MetricsLog.FILE))));
                }
            }
            return results;
        } finally {
            LocalClusterTrain.delete(scratch);
        }
    }

    /** Classification rows of random MiniLM token ids, one epoch's worth for {@code windows} logging windows. */
    private static Path writeData(Path folder, Workload w, int windows) throws IOException {
        int rows = w.globalBatch() * w.loggingSteps() * windows;
        Random random = new Random(7);
        List<TokenizedRow> all = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            long[] ids = random.longs(w.tokens(), 1_000, 30_000).toArray();
            ids[0] = 101;                  // [CLS]
            ids[w.tokens() - 1] = 102;     // [SEP]
            all.add(new TokenizedRow(ids, null, null, (long) random.nextInt(2), null));
        }
        LocalClusterTrain.writeRows(folder, all, ROW_GROUPS);
        LabelsFile.numbered(2).write(new Configuration(), folder.toUri().toString());
        return folder;
    }

    private static Path writeJob(Path run, Path miniLm, Path data, String method, Layout layout, Workload w,
                                 int windows) throws IOException {
        List<String> keys = new ArrayList<>(List.of("model.model_name_or_path=" + miniLm, "data.tokenized_path=" + data,
                "method.stage=cls", "method.finetuning_type=" + method, "train.output_dir=" + run.resolve("output"),
                "train.learning_rate=" + (method.equals("lora") ? "1e-3" : "1e-4"),
                "train.per_device_train_batch_size=" + w.globalBatch() / layout.ranks(),
                "train.max_steps=" + w.loggingSteps() * windows, "train.logging_steps=" + w.loggingSteps(),
                "train.save_steps=" + w.loggingSteps() * windows, "dist.world_size=" + layout.ranks(),
                "dist.zero_stage=1"));
        if (method.equals("lora")) {
            keys.addAll(List.of("method.lora_rank=16", "method.lora_alpha=32", "method.lora_target=all"));
        }
        Path job = Files.createDirectories(run).resolve("job.yaml");
        Files.writeString(job, ConfigLoader.parse("", "bench scaling", keys).toYaml());
        return job;
    }

    /** {@code sparktune train job} on {@code local-cluster[ranks, threads, MB]}, to its end. */
    private static void train(Path job, Layout layout, Path sparkHome, Path log) throws IOException, InterruptedException {
        Process process = LocalClusterTrain.start(job, new LocalClusterTrain.Cluster(layout.ranks(), layout.threads(),
                EXECUTOR_MEMORY_MB), List.of(), Map.of(), sparkHome, log);
        try {
            if (!process.waitFor(PROCESS_LIMIT_MINUTES, TimeUnit.MINUTES)) {
                throw failure(layout, "did not finish in " + PROCESS_LIMIT_MINUTES + " minutes", log);
            }
            if (process.exitValue() != 0) {
                throw failure(layout, "exited with " + process.exitValue(), log);
            }
        } finally {
            LocalClusterTrain.stop(process);
        }
    }

    /** One sample per logging window after the first: each window's seconds per step and communication share. */
    private static Result measure(String method, Layout layout, Workload w, List<StepMetrics> logged) {
        List<StepMetrics> windows = logged.stream().filter(m -> m.step() % w.loggingSteps() == 0).toList();
        if (windows.size() < 2) {
            throw new IllegalStateException(method + " on " + layout.name() + " logged " + windows.size()
                    + " windows; two or more are needed");
        }
        List<Double> perStep = new ArrayList<>();
        List<Double> communication = new ArrayList<>();
        for (int i = 1; i < windows.size(); i++) {
            StepMetrics a = windows.get(i - 1);
            StepMetrics b = windows.get(i);
            double seconds = b.elapsedSeconds() - a.elapsedSeconds();
            perStep.add(seconds / (b.step() - a.step()));
            communication.add((b.communicationSeconds() - a.communicationSeconds()) / seconds);
        }
        return new Result(method, layout, w.globalBatch(), w.tokens(), Samples.of(perStep), Samples.of(communication));
    }

    private static IllegalStateException failure(Layout layout, String what, Path log) throws IOException {
        return new IllegalStateException("sparktune train on " + layout.name() + " " + what + "; its output:\n"
                + LocalClusterTrain.tail(log));
    }
}
