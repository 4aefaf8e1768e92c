package dev.sparktune.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code sparktune bench scale}: whether LoRA fine-tuning of a Llama of about a billion parameters fits 4 ranks of a
 * {@code local-cluster} on this machine when every process may hold at most a given amount of memory, with and without
 * the features that save memory. The model has TinyLlama-1.1B's shape (Zhang et al., 2024) and random weights, written
 * in Hugging Face's layout first, so nothing is downloaded. Each setup is one {@code sparktune train} run, started
 * through {@code prlimit --data} so that the driver and each executor it starts may commit at most the limit (Linux's
 * {@code RLIMIT_DATA}: the writable private memory of a process, libtorch's tensors included); a run that needs more
 * fails with libtorch's or the JVM's out-of-memory error, which the result quotes. Every setup's executors return
 * freed memory to the system ({@code GLIBC_TUNABLES}), as the README advises near a memory limit. The
 * executors' peak memory is polled from {@code /proc} ({@link ExecutorMemoryWatch}).
 */
public final class ScaleBench {
    /** TinyLlama-1.1B's config.json: 1.1 B parameters, 4.4 GB in float32. */
    static final String LLAMA_1B = """
            {"model_type": "llama", "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632,
             "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "rms_norm_eps": 1e-5,
             "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": 2048,
             "hidden_act": "silu"}""";

    public static final int RANKS = 4;
    public static final int STEPS = 3;
    private static final int EXECUTOR_HEAP_MB = 1024;
    private static final long PROCESS_LIMIT_MINUTES = 40;
    private static final long SHARD_BYTES = 1L << 30;
    /**
     * The allocator setting of every executor: bin/sparktune keeps freed memory in the process (glibc's mmap and trim
     * thresholds at 4 GiB, for speed), which holds on to the tensor blocks freed while a base is packed; with blocks
     * over 64 KiB mapped on their own, each is unmapped when freed (the README says when to choose which).
     */
    private static final String ALLOCATOR = "GLIBC_TUNABLES";
    private static final String RETURNING_FREED_MEMORY = "glibc.malloc.mmap_threshold=65536";
    /** A stack frame in sparktune's own code: its class's simple name and method, e.g. {@code Nf4Blocks.of}. */
    private static final Pattern SPARKTUNE_FRAME = Pattern.compile("at dev\\.sparktune\\.(?:\\w+\\.)*?([A-Z]\\w*\\.\\w+)\\(");
    /** What libtorch's and the JVM's out-of-memory errors say, from their first word. */
    private static final Pattern OUT_OF_MEMORY = Pattern.compile(
            "(DefaultCPUAllocator: can't allocate memory|java.lang.OutOfMemoryError|Native memory allocation).*");

    /** One configuration: a name and the job keys that make it differ from the common LoRA job. */
    public record Setup(String name, List<String> keys) {
        public Setup {
            keys = List.copyOf(keys);
        }
    }

    /**
     * How one setup ran: whether it trained all {@link #STEPS} steps, else the first out-of-memory error in its
     * output; each executor's peaks; seconds per step after the first (NaN when it did not train).
     */
    public record Result(Setup setup, boolean trained, String failure, Map<String, ExecutorPeaks> executors,
                         double secondsPerStep) {
    }

    /** The model's size and the tokens of each rank's row. */
    public record Workload(long parameters, int tokens) {
    }

    private ScaleBench() {
    }

    /** The setups, the plain one first: the one the others must beat (--quick: it and the last, the leanest). */
    public static List<Setup> setups(boolean quick) {
        List<Setup> all = List.of(
                new Setup("ZeRO 0, float32 base", List.of()),
                new Setup("ZeRO 0, float32 base, gradient checkpointing", List.of("train.gradient_checkpointing=true")),
                new Setup("ZeRO 0, 4-bit base", List.of("model.quantization_bit=4")),
                new Setup("ZeRO 0, 4-bit base, gradient checkpointing", List.of("model.quantization_bit=4",
                        "train.gradient_checkpointing=true")));
        return quick ? List.of(all.get(0), all.get(all.size() - 1)) : all;
    }

    /** The workload of {@link #run}: per rank one row of 256 tokens a step (--quick: the quick model, 32 tokens). */
    public static Workload workload(boolean quick) {
        String json = quick ? TrainStepBench.LLAMA_QUICK : LLAMA_1B;
        long parameters = LlamaConfig.fromJson(json, "bench scale").parameterShapes().values().stream()
                .mapToLong(s -> s.size()).sum();
        return new Workload(parameters, quick ? 32 : 256);
    }

    /**
     * Writes the model and the data, then runs every setup under {@code limitBytes} per process (0: no limit),
     * telling {@code progress} as it goes.
     */
    public static List<Result> run(boolean quick, long limitBytes, Consumer<String> progress)
            throws IOException, InterruptedException {
        Workload workload = workload(quick);
        Path scratch = Files.createTempDirectory("sparktune-bench-scale");
        try {
            progress.accept(String.format(java.util.Locale.ROOT, "Writing a random Llama of %,d parameters into %s",
                    workload.parameters(), scratch));
            Path model = writeModel(scratch.resolve("model"), quick ? TrainStepBench.LLAMA_QUICK : LLAMA_1B);
            Path data = writeData(scratch.resolve("data"), workload.tokens());
            Path sparkHome = Files.createDirectories(scratch.resolve("spark-home").resolve("jars")).getParent();
            List<Result> results = new ArrayList<>();
            for (Setup setup : setups(quick)) {
                progress.accept("Training: " + setup.name());
                Path run = scratch.resolve("run-" + results.size());
                Path job = writeJob(run, model, data, setup);
                results.add(train(setup, job, limitBytes, sparkHome, run.resolve("sparktune-train.log")));
            }
            return results;
        } finally {
            LocalClusterTrain.delete(scratch);
        }
    }

    private static Path writeModel(Path folder, String json) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(1);
            Llama llama = TrainStepBench.randomLlama(json, manager);
            ModelDirectory.write(folder, json, llama.weights().asMap(), SHARD_BYTES, null);
        }
        return folder;
    }

    /** Random token ids, {@link #STEPS} rows per rank and some over, in 8 files the ranks share out. */
    private static Path writeData(Path folder, int tokens) throws IOException {
        Random random = new Random(7);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < RANKS * (STEPS + 1); i++) {
            rows.add(new TokenizedRow(random.longs(tokens, 3, 1000).toArray(), null, null, null, null));
        }
        return LocalClusterTrain.writeRows(folder, rows, 8);
    }

    private static Path writeJob(Path run, Path model, Path data, Setup setup) throws IOException {
        List<String> keys = new ArrayList<>(List.of("model.model_name_or_path=" + model, "data.tokenized_path=" + data,
                "method.stage=pt", "method.finetuning_type=lora", "method.lora_rank=8", "method.lora_alpha=16",
                "method.lora_target=all", "train.output_dir=" + run.resolve("output"), "train.learning_rate=1e-4",
                "train.per_device_train_batch_size=1", "train.max_steps=" + STEPS, "train.logging_steps=1",
                "train.save_steps=" + STEPS, "dist.world_size=" + RANKS, "export.export_type=adapter"));
        keys.addAll(setup.keys());
        Path job = Files.createDirectories(run).resolve("job.yaml");
        Files.writeString(job, ConfigLoader.parse("", "bench scale", keys).toYaml());
        return job;
    }

    /** One run of {@code sparktune train}, its processes limited to {@code limitBytes} each, and what it showed. */
    private static Result train(Setup setup, Path job, long limitBytes, Path sparkHome, Path log)
            throws IOException, InterruptedException {
        List<String> prefix = limitBytes > 0 ? List.of("prlimit", "--data=" + limitBytes) : List.of();
        // a run out of memory fails at once: no retried task, no retried stage; every executor allocates as README advises
        Map<String, String> spark = Map.of("spark.task.maxFailures", "1", "spark.stage.maxConsecutiveAttempts", "1",
                "spark.executorEnv." + ALLOCATOR, RETURNING_FREED_MEMORY);
        Process process = LocalClusterTrain.start(job, new LocalClusterTrain.Cluster(RANKS, 1, EXECUTOR_HEAP_MB), prefix,
                spark, sparkHome, log);
        Map<String, ExecutorPeaks> peaks;
        try (ExecutorMemoryWatch watch = ExecutorMemoryWatch.start(process)) {
            if (!process.waitFor(PROCESS_LIMIT_MINUTES, TimeUnit.MINUTES)) {
                throw new IllegalStateException("bench scale: " + setup.name() + " did not finish in "
                        + PROCESS_LIMIT_MINUTES + " minutes; its output:\n" + LocalClusterTrain.tail(log));
            }
            peaks = watch.stop();
        } finally {
            LocalClusterTrain.stop(process);
        }
        if (process.exitValue() == 0) {
            List<StepMetrics> steps = MetricsLog.read(job.getParent().resolve("output").resolve(MetricsLog.FILE));
            StepMetrics first = steps.get(0);
            StepMetrics last = steps.get(steps.size() - 1);
            double perStep = (last.elapsedSeconds() - first.elapsedSeconds()) / (last.step() - first.step());
            return new Result(setup, true, null, peaks, perStep);
        }
        String reason = Files.readAllLines(log).stream().map(OUT_OF_MEMORY::matcher).filter(Matcher::find).findFirst()
                .map(m -> m.group().strip()).orElse(null);
        if (reason == null) {
            throw new IllegalStateException("bench scale: " + setup.name() + " exited with " + process.exitValue()
                    + " without running out of memory; its output:\n" + LocalClusterTrain.tail(log));
        }
        return new Result(setup, false, reason + whereInSparktune(sparkHome.resolve("work")), peaks, Double.NaN);
    }

    /**
     * Where the first executor of the newest run that ran out of memory was in sparktune's code (loading the base, a
     * forward, a backward), from the stack trace in its stderr under the workers' {@code work} folder:
     * {@code " (in Class.method)"}, or "" when none says.
     */
    private static String whereInSparktune(Path work) throws IOException {
        if (!Files.isDirectory(work)) {
            return "";
        }
        // the workers keep every run's application folder (app-<start time>-<n>): this run's is the newest
        Path app;
        try (var apps = Files.list(work)) {
            app = apps.filter(Files::isDirectory).max(java.util.Comparator.naturalOrder()).orElse(null);
        }
        if (app == null) {
            return "";
        }
        List<Path> logs;
        try (var walk = Files.walk(app)) {
            logs = walk.filter(p -> p.getFileName().toString().equals("stderr")).sorted().toList();
        }
        for (Path stderr : logs) {
            List<String> lines = Files.readAllLines(stderr);
            for (int i = 0; i < lines.size(); i++) {
                if (OUT_OF_MEMORY.matcher(lines.get(i)).find()) {
                    for (String frame : lines.subList(i + 1, lines.size())) {
                        Matcher at = SPARKTUNE_FRAME.matcher(frame);
                        if (at.find()) {
                            return " (in " + at.group(1) + ")";
                        }
                    }
                }
            }
        }
        return "";
    }
}
