package dev.sparktune.bench;

import dev.sparktune.dist.RingOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Memory per rank of data-parallel full fine-tuning at ZeRO stages 0, 1, 2 and 3 with 2 ranks, and of the same model on
 * 1 rank: the engine's own accounting (optimizer state, gradient buffers) next to each rank's peak resident memory.
 * Then one rank on a batch whose activations outweigh the rest, with and without activation checkpointing
 * ({@code train.gradient_checkpointing}). Last, one rank with checkpointed blocks holding the weights in other ways:
 * full fine-tuning in fp16 with float32 master weights ({@code train.fp16}), and LoRA over a float32, bf16, int8 or
 * NF4 base ({@code train.bf16}, {@code model.quantization_bit}), with the bytes of the weights it holds.
 * Peak RSS is per process, so each rank runs in a JVM of its own ({@link MemoryBenchRank}), started with this JVM's
 * java, classpath and options, joined to the others by the TCP ring on loopback.
 */
public final class MemoryBench {
    static final RingOptions RING_OPTIONS = RingOptions.defaults().withNetworkCidr("127.0.0.0/8")
            .withTimeout(Duration.ofSeconds(120));
    private static final long RANK_TIMEOUT_SECONDS = 600;
    private static final double MIB = 1 << 20;
    /** dist.reduce_bucket_size's default; --quick's model is smaller than one such bucket, so it gets its own. */
    static final long BUCKET_ELEMENTS = 25_000_000L;
    static final long QUICK_BUCKET_ELEMENTS = 25_000L;

    /** What a rank trains, and how it holds the model's weights. */
    public enum Training {
        FULL("full, float32"),
        FULL_FP16("full, fp16 + float32 masters"),
        LORA("LoRA r16, float32 base"),
        LORA_BF16("LoRA r16, bf16 base"),
        LORA_INT8("LoRA r16, int8 base"),
        LORA_NF4("LoRA r16, nf4 base");

        private final String label;

        Training(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * A ZeRO stage at a number of ranks, a global batch of rows x tokens, whether blocks are checkpointed, and what
     * is trained how.
     */
    public record Setup(int stage, int ranks, int rows, int tokens, boolean checkpointing, Training training) {
        String batch() {
            return rows + " x " + tokens;
        }
    }

    /**
     * One setup's figures: the trainable parameters' and the engine's bytes (the largest over its ranks; the same on
     * every repetition), the peak RSS of every rank of every repetition, whole and as its rise above the RSS before
     * the first step, and the bytes of all the model's weights as a rank holds them (packed ones packed).
     */
    public record Result(Setup setup, long parameterBytes, long gradientBufferBytes, long optimizerStateBytes,
                         Samples peakRss, Samples peakRssGrowth, long weightBytes) {
    }

    private MemoryBench() {
    }

    public static List<Setup> setups(boolean quick) {
        int rows = MemoryBenchRank.GLOBAL_ROWS;
        int tokens = quick ? 32 : 128;
        // activations grow with the batch, parameters and optimizer state do not: a long batch shows checkpointing
        int longRows = quick ? 2 : 4;
        int longTokens = quick ? 64 : 512;
        List<Setup> setups = new ArrayList<>(List.of(new Setup(0, 1, rows, tokens, false, Training.FULL),
                new Setup(0, 2, rows, tokens, false, Training.FULL), new Setup(1, 2, rows, tokens, false, Training.FULL),
                new Setup(2, 2, rows, tokens, false, Training.FULL),
                // stage 3 recomputes each block in backward, for its parameters exist only while the block runs
                new Setup(3, 2, rows, tokens, true, Training.FULL),
                new Setup(0, 1, longRows, longTokens, false, Training.FULL),
                new Setup(0, 1, longRows, longTokens, true, Training.FULL)));
        // how the weights are held, compared with checkpointed blocks, so activations weigh little
        for (Training training : Training.values()) {
            setups.add(new Setup(0, 1, rows, tokens, true, training));
        }
        return setups;
    }

    public static List<Result> run(boolean quick, int repeats) throws Exception {
        List<Result> results = new ArrayList<>();
        for (Setup setup : setups(quick)) {
            List<long[]> reports = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                reports.addAll(runRanks(setup, quick));
            }
            results.add(result(setup, reports));
        }
        return results;
    }

    /**
     * From each rank's MEMORY numbers: trainable-parameter, gradient-buffer and optimizer-state bytes, RSS before,
     * RSS after, VmHWM, the weights' bytes.
     */
    private static Result result(Setup setup, List<long[]> reports) {
        long parameters = reports.stream().mapToLong(r -> r[0]).max().orElseThrow();
        long gradients = reports.stream().mapToLong(r -> r[1]).max().orElseThrow();
        long state = reports.stream().mapToLong(r -> r[2]).max().orElseThrow();
        Samples peak = new Samples(reports.stream().mapToDouble(r -> r[5]).toArray());
        Samples growth = new Samples(reports.stream().mapToDouble(r -> r[5] - r[3]).toArray());
        long weights = reports.stream().mapToLong(r -> r[6]).max().orElseThrow();
        return new Result(setup, parameters, gradients, state, peak, growth, weights);
    }

    /**
     * The results as a markdown table in MiB, then each sharded stage's bytes as a fraction of stage 0's at the same
     * number of ranks.
     */
    public static void printTable(List<Result> results, boolean quick, PrintWriter out) {
        out.println("| ZeRO stage | ranks | global batch | activation checkpointing | trainable parameters (MiB) |"
                + " engine's gradient buffers / rank (MiB) | optimizer state / rank (MiB) | peak RSS / rank (MiB) |"
                + " peak RSS rise in training / rank (MiB) | training | weights held / rank (MiB) |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        for (Result r : results) {
            out.printf(Locale.ROOT, "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.setup().stage(),
                    r.setup().ranks(), r.setup().batch(), r.setup().checkpointing() ? "yes" : "no",
                    mib(r.parameterBytes()), mib(r.gradientBufferBytes()), mib(r.optimizerStateBytes()),
                    r.peakRss().map(b -> b / MIB).format("%,.0f"), r.peakRssGrowth().map(b -> b / MIB).format("%,.0f"),
                    r.setup().training().label(), mib(r.weightBytes()));
        }
        out.println();
        for (Result r : results) {
            Result stage0 = results.stream().filter(b -> b.setup().stage() == 0 && b.setup().ranks() == r.setup().ranks()
                    && b.setup().batch().equals(r.setup().batch()) && !b.setup().checkpointing()).findFirst().orElse(null);
            if (r.setup().training() != Training.FULL) {
                printAgainstFloat(r, results, out);
            } else if (r.setup().stage() != 0 && stage0 != null) {
                out.printf(Locale.ROOT, "ZeRO %d, %d ranks: weights held %.3f x, optimizer state %.3f x, gradient"
                        + " buffers %.3f x, peak RSS %.2f x ZeRO 0's per rank%n", r.setup().stage(), r.setup().ranks(),
                        (double) r.weightBytes() / stage0.weightBytes(),
                        (double) r.optimizerStateBytes() / stage0.optimizerStateBytes(),
                        (double) r.gradientBufferBytes() / stage0.gradientBufferBytes(),
                        r.peakRss().median() / stage0.peakRss().median());
            } else if (r.setup().checkpointing() && stage0 != null) {
                out.printf(Locale.ROOT, "Activation checkpointing, %d rank(s), %s: peak RSS rise in training %.2f x, peak"
                        + " RSS %.2f x the same run's without%n", r.setup().ranks(), r.setup().batch(),
                        r.peakRssGrowth().median() / stage0.peakRssGrowth().median(),
                        r.peakRss().median() / stage0.peakRss().median());
            }
        }
        out.printf(Locale.ROOT, "AdamW, %d steps of the global batch (rows x tokens) split between the ranks; reduce"
                + " buckets of %,d elements; RSS over every rank of every repetition. fp16 runs at loss scale 1 (memory"
                + " only); LoRA is rank 16 on every linear layer, its frozen linear weights held as the row says.%n",
                MemoryBenchRank.STEPS, quick ? QUICK_BUCKET_ELEMENTS : BUCKET_ELEMENTS);
        out.println("libtorch's own .grad holds each parameter's whole gradient (parameters' bytes again) on every rank at"
                + " stages 0-2, and the engine's buffers come on top of it; at stage 3 a .grad lives only while its"
                + " parameters are gathered.");
    }

    /** A row that holds the weights otherwise, against float32 at the same batch: full for fp16, LoRA for packed bases. */
    private static void printAgainstFloat(Result r, List<Result> results, PrintWriter out) {
        Training reference = r.setup().training() == Training.FULL_FP16 ? Training.FULL : Training.LORA;
        if (r.setup().training() == reference) {
            return;
        }
        results.stream().filter(b -> b.setup().training() == reference && b.setup().ranks() == r.setup().ranks()
                && b.setup().batch().equals(r.setup().batch()) && b.setup().checkpointing() == r.setup().checkpointing())
                .findFirst().ifPresent(f -> out.printf(Locale.ROOT, "%s, %d rank(s), %s: weights held %.3f x, optimizer"
                        + " state %.3f x, peak RSS %.2f x %s's%n", r.setup().training().label(), r.setup().ranks(),
                        r.setup().batch(), (double) r.weightBytes() / f.weightBytes(),
                        (double) r.optimizerStateBytes() / f.optimizerStateBytes(),
                        r.peakRss().median() / f.peakRss().median(), reference.label()));
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%,.2f", bytes / MIB);
    }

    /** Starts the setup's ranks, hands them each other's addresses, and returns each rank's MEMORY numbers. */
    static List<long[]> runRanks(Setup setup, boolean quick) throws Exception {
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String secret = HexFormat.of().formatHex(random);
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (int rank = 0; rank < setup.ranks(); rank++) {
                Path log = Files.createTempFile("sparktune-bench-memory-rank" + rank + "-", ".log");
                logs.add(log);
                ProcessBuilder builder = new ProcessBuilder(command(setup, rank, quick))
                        .redirectError(log.toFile());
                builder.environment().put(MemoryBenchRank.SECRET_VARIABLE, secret);
                processes.add(builder.start());
            }
            List<BufferedReader> outputs = new ArrayList<>();
            List<String> addresses = new ArrayList<>();
            for (int rank = 0; rank < setup.ranks(); rank++) {
                outputs.add(new BufferedReader(new InputStreamReader(processes.get(rank).getInputStream(),
                        StandardCharsets.UTF_8)));
                addresses.add(awaitLine(outputs.get(rank), MemoryBenchRank.ADDRESS, rank, processes.get(rank), logs.get(rank)));
            }
            for (Process p : processes) {
                try (Writer in = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8)) {
                    in.write(String.join(",", addresses) + "\n");
                }
            }
            List<long[]> reports = new ArrayList<>();
            for (int rank = 0; rank < setup.ranks(); rank++) {
                String line = awaitLine(outputs.get(rank), MemoryBenchRank.MEMORY, rank, processes.get(rank), logs.get(rank));
                String[] fields = line.trim().split(" ");
                long[] numbers = new long[fields.length];
                for (int i = 0; i < fields.length; i++) {
                    numbers[i] = Long.parseLong(fields[i]);
                }
                reports.add(numbers);
            }
            for (int rank = 0; rank < setup.ranks(); rank++) {
                Process p = processes.get(rank);
                if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw failure(rank, "did not exit cleanly", logs.get(rank));
                }
            }
            for (Path log : logs) {
                Files.deleteIfExists(log);
            }
            return reports;
        } finally {
            processes.forEach(Process::destroyForcibly);
        }
    }

    /** The rest of the first line of {@code output} that starts with {@code prefix}; other lines are skipped. */
    private static String awaitLine(BufferedReader output, String prefix, int rank, Process process, Path log) throws Exception {
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                for (String l = output.readLine(); l != null; l = output.readLine()) {
                    if (l.startsWith(prefix)) {
                        return l.substring(prefix.length());
                    }
                }
                return null;
            } catch (IOException e) {
                return null;
            }
        });
        String found;
        try {
            found = line.get(RANK_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            process.destroyForcibly();
            throw failure(rank, "printed no " + prefix.trim() + " line in " + RANK_TIMEOUT_SECONDS + " s", log);
        }
        if (found == null) {
            process.waitFor(10, TimeUnit.SECONDS);
            throw failure(rank, "ended before its " + prefix.trim() + " line", log);
        }
        return found;
    }

    private static IllegalStateException failure(int rank, String what, Path log) throws IOException {
        String err = Files.exists(log) ? Files.readString(log) : "";
        String tail = err.length() > 4000 ? err.substring(err.length() - 4000) : err;
        return new IllegalStateException("rank " + rank + " of the memory benchmark " + what + "; its stderr:\n" + tail);
    }

    /** A JVM started as this one was, running the rank's class with its arguments. */
    private static List<String> command(Setup setup, int rank, boolean quick) {
        List<String> command = ChildJvm.command();
        command.addAll(List.of(MemoryBenchRank.class.getName(), Integer.toString(setup.stage()),
                Integer.toString(setup.ranks()), Integer.toString(rank), Boolean.toString(quick),
                Integer.toString(setup.rows()), Integer.toString(setup.tokens()), Boolean.toString(setup.checkpointing()),
                setup.training().name()));
        return command;
    }
}
