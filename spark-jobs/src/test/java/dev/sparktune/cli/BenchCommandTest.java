package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.bench.ScaleBench;
import dev.sparktune.bench.ScalingBench;
import dev.sparktune.ingest.SpamAssassinCorpus;
import dev.sparktune.io.onnx.ImportedMiniLm;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sparktune bench --quick, as .ci/run runs it once: every table and row is there; no timing is asserted. Prep runs on
 * a few real SpamAssassin e-mails of each group and back-translates through a real APY and the apertium command line.
 */
class BenchCommandTest {
    private static final int E_MAILS_PER_GROUP = 8;
    private static final Pattern MEDIAN_AND_RANGE = Pattern.compile("[\\d.,]+%? \\([\\d.,]+%?–[\\d.,]+%?\\)");

    @Test
    void quickRunPrintsEveryTableAndAppendsThem(@TempDir Path dir) throws Exception {
        Path model = ImportedMiniLm.importTo(dir.resolve("all-MiniLM-L6-v2"));
        Path benchmarks = Files.writeString(dir.resolve("BENCHMARKS.md"), "# Benchmarks\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        Path corpus = smallCorpus(dir.resolve("spam-assassin"));

        // the one --quick run CI makes of every benchmark, the all-reduce sweep included
        int code = Sparktune.run(new String[] {"bench", "--quick", "--sweep", "--model", model.toString(), "--corpus",
            corpus.toString(), "--append", benchmarks.toString()}, new PrintWriter(out, true),
                new PrintWriter(err, true));

        String printed = out.toString();
        assertEquals(0, code, printed + err);
        assertTrue(printed.startsWith("Machine: " + Runtime.getRuntime().availableProcessors() + " cores"), printed);
        assertTrue(printed.contains("| 256 x 256 x 256 |"), printed);
        for (String workload : new String[] {"all-MiniLM-L6-v2, 4 x 32", "Llama, 0.2 M parameters, 2 x 64"}) {
            for (String method : new String[] {"full", "LoRA r16 all", "freeze, top 2"}) {
                String row = printed.lines().filter(l -> l.startsWith("| " + workload + " | " + method + " |"))
                        .findFirst().orElseThrow(() -> new AssertionError("no row for " + workload + ", " + method
                                + ":\n" + printed));
                // s/step, tokens/s, GFLOP/s and MFU
                assertEquals(4, MEDIAN_AND_RANGE.matcher(row).results().count(), row);
            }
        }
        assertTrue(printed.contains("all-MiniLM-L6-v2, LoRA r16 all: "), printed);
        for (String method : new String[] {"full", "LoRA r16 all", "freeze, top 2"}) {
            String heading = "all-MiniLM-L6-v2, 4 x 32, " + method + ": ";
            assertTrue(printed.contains(heading), "no op profile for " + method + ":\n" + printed);
            String table = printed.substring(printed.indexOf(heading));
            assertTrue(table.lines().anyMatch(l -> l.startsWith("| aten::")), "no op row:\n" + table);
        }
        assertTrue(printed.contains("Raw loopback TCP, one stream: "), printed);
        for (String size : new String[] {"256 KiB", "1 MiB"}) {
            String row = printed.lines().filter(l -> l.startsWith("| 2 | " + size + " |")).findFirst()
                    .orElseThrow(() -> new AssertionError("no all-reduce row for " + size + ":\n" + printed));
            assertEquals(2, MEDIAN_AND_RANGE.matcher(row).results().count(), row);     // time and busbw
        }
        assertTrue(printed.contains("Raw loopback ring of 2 streams at once, per stream: "), printed);
        for (String chunk : new String[] {"64 KiB", "256 KiB"}) {
            for (String buffers : new String[] {"kernel", "4 MiB"}) {
                String cell = "| 1 MiB | " + chunk + " | " + buffers + " | ";
                String row = printed.lines().filter(l -> l.startsWith(cell)).findFirst()
                        .orElseThrow(() -> new AssertionError("no sweep row " + cell + ":\n" + printed));
                assertEquals(1, MEDIAN_AND_RANGE.matcher(row).results().count(), row);
            }
        }
        for (String stage : new String[] {"ingest", "clean", "dedup", "split", "augment", "tokenize"}) {
            String row = printed.lines().filter(l -> l.startsWith("| " + stage + " |")).findFirst()
                    .orElseThrow(() -> new AssertionError("no prep row for " + stage + ":\n" + printed));
            assertEquals(3, MEDIAN_AND_RANGE.matcher(row).results().count(), row);    // 1 core, all, per core
            assertTrue(MEDIAN_AND_RANGE.matcher(row).results().allMatch(m -> !m.group().startsWith("0 ")), row);
        }
        assertTrue(printed.contains("| ingest | " + 5 * E_MAILS_PER_GROUP + " |"), printed);
        for (String way : new String[] {"| APY, as prep sends it", "| apertium command line"}) {
            String row = printed.lines().filter(l -> l.startsWith(way)).findFirst()
                    .orElseThrow(() -> new AssertionError("no back-translation row " + way + ":\n" + printed));
            assertEquals(2, MEDIAN_AND_RANGE.matcher(row).results().count(), row);     // sentences/s, cores busy
            assertTrue(row.matches(".*\\| \\d+\\.\\d \\|$"), "CPU ms per sentence: " + row);
        }
        assertScalingRows(printed);
        assertMemoryTableShards(printed);
        String appended = Files.readString(benchmarks);
        assertTrue(appended.startsWith("# Benchmarks\n\n## sparktune bench ("), appended);
        // git describe: the commit's hash, after the nearest tag if there is one
        assertTrue(BuildInfo.commit().matches("(.+-g)?[0-9a-f]{12}(-dirty)?"), "built in a git checkout: "
                + BuildInfo.commit());
        assertTrue(appended.contains(", commit " + BuildInfo.commit() + ")"), appended);
        assertTrue(appended.contains("sparktune bench --quick --sweep --model"), appended);
        assertTrue(appended.contains("| all-MiniLM-L6-v2, 4 x 32 | freeze, top 2 |"), appended);
        assertTrue(appended.contains("| 2 | 2 | "), appended);
    }

    /**
     * bench scaling's rows, each run a {@code sparktune train} of its own on a local-cluster: one rank spends nothing
     * in collective calls, one rank per core spends some; the times themselves are not asserted.
     */
    private static void assertScalingRows(String printed) {
        int cores = ScalingBench.cores();
        double[] communication = new double[2];
        String[] layouts = {"1 rank x " + cores + " threads", cores + " ranks x 1 thread"};
        for (int i = 0; i < 2; i++) {
            String layout = layouts[i];
            String row = printed.lines().filter(l -> l.startsWith("| lora | " + layout + " | " + 2 * cores + " x 32 |")).findFirst()
                    .orElseThrow(() -> new AssertionError("no scaling row for " + layout + ":\n" + printed));
            assertEquals(3, MEDIAN_AND_RANGE.matcher(row).results().count(), row);   // s/step, tokens/s, communication
            String[] cells = row.split("\\|");
            communication[i] = Double.parseDouble(cells[6].trim().split("%")[0]);
        }
        assertEquals(0.0, communication[0], printed);
        assertTrue(communication[1] > 0, printed);
        assertTrue(printed.contains("lora: " + layouts[1] + " takes "), printed);
    }

    /**
     * bench memory's table, each rank a JVM of its own: at ZeRO 1 and 2 a rank holds half of stage 0's optimizer
     * state, at ZeRO 2 also half of its gradient buffers plus one bucket; exact accounting, nothing timed.
     */
    private static void assertMemoryTableShards(String printed) {
        double[] oneRank = memoryRow(printed, 0, 1);
        double[] stage0 = memoryRow(printed, 0, 2);
        double[] stage1 = memoryRow(printed, 1, 2);
        double[] stage2 = memoryRow(printed, 2, 2);
        // columns: parameters, gradient buffers, optimizer state, peak RSS (MiB)
        assertTrue(stage0[0] > 0 && stage0[0] == stage1[0] && stage0[0] == stage2[0], printed);
        assertEquals(2 * stage0[0], stage0[2], 0.015, printed);     // AdamW: exp_avg and exp_avg_sq
        assertEquals(stage0[2], oneRank[2], 0.015, printed);
        assertEquals(stage0[2] / 2, stage1[2], 0.02 * stage0[2], printed);
        assertEquals(stage0[2] / 2, stage2[2], 0.02 * stage0[2], printed);
        assertEquals(stage0[0], stage0[1], 0.015, printed);        // stage 0 reduces whole buckets
        assertEquals(stage0[1], stage1[1], 0.015, printed);
        // its shard of every bucket, plus one bucket in flight: the largest, --quick's 1000 x 64 embedding alone
        assertEquals(stage0[1] / 2 + 1000 * 64 * 4 / (double) (1 << 20), stage2[1], 0.015, printed);
        for (double[] row : new double[][] {oneRank, stage0, stage1, stage2}) {
            assertTrue(row[3] > 0, printed);
        }
        assertTrue(printed.contains("ZeRO 1, 2 ranks: weights held 1.000 x, optimizer state 0.500 x"), printed);
        // ZeRO 3 keeps half of every parameter on each of 2 ranks, half of the optimizer state and half of the
        // gradients (its shards of them, in place of stage 0's whole buckets)
        double[] stage3 = memoryRow(printed, 3, 2, "2 x 32 | yes");
        assertEquals(stage0[2] / 2, stage3[2], 0.02 * stage0[2], printed);
        assertEquals(stage0[1] / 2, stage3[1], 0.02 * stage0[1], printed);
        double held0 = mib(printed.lines().filter(l -> l.startsWith("| 0 | 2 | 2 x 32 | no |")).findFirst()
                .orElseThrow().split("\\|")[11]);
        double held3 = mib(printed.lines().filter(l -> l.startsWith("| 3 | 2 | 2 x 32 | yes |")).findFirst()
                .orElseThrow().split("\\|")[11]);
        assertEquals(held0 / 2, held3, 0.02 * held0, "ZeRO 3 holds " + held3 + " MiB of ZeRO 0's " + held0 + ":\n"
                + printed);
        double[] plain = memoryRow(printed, 0, 1, "2 x 64 | no");
        double[] checkpointed = memoryRow(printed, 0, 1, "2 x 64 | yes");
        assertEquals(plain[2], checkpointed[2], 0.015, printed);
        assertTrue(checkpointed[3] > 0, printed);
        assertTrue(printed.contains("Activation checkpointing, 1 rank(s), 2 x 64: peak RSS rise in training "), printed);
        assertWeightHoldingRows(printed);
    }

    /**
     * bench memory's rows of one checkpointed rank holding the weights otherwise: fp16 parameters take half of
     * float32's bytes and carry float32 masters beside AdamW's two moments (3 x float32's 2 moments / 2); each packed
     * LoRA base holds fewer bytes than the one before it (float32, bf16, int8, nf4), and LoRA trains the same tensors.
     */
    private static void assertWeightHoldingRows(String printed) {
        String[] full = weightRow(printed, "full, float32");
        String[] fp16 = weightRow(printed, "full, fp16 + float32 masters");
        assertEquals(mib(full[5]) / 2, mib(fp16[5]), 0.015, printed);
        assertEquals(mib(full[7]) * 1.5, mib(fp16[7]), 0.02, printed);
        double held = Double.MAX_VALUE;
        for (String base : new String[] {"float32", "bf16", "int8", "nf4"}) {
            String[] row = weightRow(printed, "LoRA r16, " + base + " base");
            assertTrue(mib(row[11]) < held, base + " holds less than the base before it:\n" + printed);
            held = mib(row[11]);
            assertEquals(mib(weightRow(printed, "LoRA r16, float32 base")[5]), mib(row[5]), 0.0, printed);
        }
        assertTrue(printed.contains("LoRA r16, nf4 base, 1 rank(s), 2 x 32: weights held "), printed);
    }

    /** The cells of the memory table's checkpointed one-rank row for {@code training}. */
    private static String[] weightRow(String printed, String training) {
        return printed.lines().filter(l -> l.startsWith("| 0 | 1 | 2 x 32 | yes |") && l.contains("| " + training + " |"))
                .findFirst().orElseThrow(() -> new AssertionError("no memory row for " + training + ":\n" + printed))
                .split("\\|");
    }

    private static double mib(String cell) {
        return Double.parseDouble(cell.trim().replace(",", ""));
    }

    /** The MiB figures of the memory table's row for {@code stage} at {@code ranks}; peak RSS as its median. */
    private static double[] memoryRow(String printed, int stage, int ranks) {
        return memoryRow(printed, stage, ranks, "2 x 32 | no");
    }

    /** As above, for the row of a global batch and checkpointing, e.g. {@code "2 x 64 | yes"}. */
    private static double[] memoryRow(String printed, int stage, int ranks, String batchAndCheckpointing) {
        String prefix = "| " + stage + " | " + ranks + " | " + batchAndCheckpointing + " |";
        String row = printed.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no memory row for ZeRO " + stage + ", " + ranks + " ranks:\n"
                        + printed));
        String[] cells = row.split("\\|");
        double[] values = new double[4];
        for (int i = 0; i < 4; i++) {
            values[i] = Double.parseDouble(cells[5 + i].trim().split(" ")[0].replace(",", ""));
        }
        return values;
    }

    /** The first e-mails of each of the corpus's groups, copied into a corpus folder of their own. */
    private static Path smallCorpus(Path dir) throws Exception {
        for (String group : List.of("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")) {
            Path to = Files.createDirectories(dir.resolve(group));
            for (Path mail : SpamAssassinCorpus.messages(group).subList(0, E_MAILS_PER_GROUP)) {
                Files.copy(mail, to.resolve(mail.getFileName()));
            }
        }
        return dir;
    }

    /**
     * bench scale --quick, named alone (all leaves it out): its setups (the plain one and the leanest) train the quick
     * Llama on 4 executors without a memory limit, and each executor's peaks are read from /proc while it runs.
     */
    @Test
    void scaleQuickRunTrainsEverySetup() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Sparktune.run(new String[] {"bench", "scale", "--quick"}, new PrintWriter(out, true),
                new PrintWriter(err, true));

        String printed = out.toString();
        assertEquals(0, code, printed + err);
        assertTrue(printed.contains("memory per process: no limit"), printed);
        for (ScaleBench.Setup setup : ScaleBench.setups(true)) {
            String row = printed.lines().filter(l -> l.startsWith("| " + setup.name() + " | trained 3 steps | "))
                    .findFirst().orElseThrow(() -> new AssertionError("no trained row for " + setup.name() + ":\n"
                            + printed));
            String[] cells = row.split("\\|");
            for (int column : new int[] {4, 5}) {     // peak resident, peak data: one figure per executor
                String[] perExecutor = cells[column].trim().split(" / ");
                assertEquals(ScaleBench.RANKS, perExecutor.length, row);
                for (String mib : perExecutor) {
                    assertTrue(Long.parseLong(mib.replace(",", "")) > 0, row);
                }
            }
        }
    }

    @Test
    void memoryLimitWithoutScaleIsRefused() {
        StringWriter err = new StringWriter();
        int code = Sparktune.run(new String[] {"bench", "gemm", "--memory-limit", "2048"},
                new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertEquals(2, code);
        assertTrue(err.toString().contains("--memory-limit belongs to scale"), err.toString());
    }

    @Test
    void sweepWithoutAllReduceIsRefused() {
        StringWriter err = new StringWriter();
        int code = Sparktune.run(new String[] {"bench", "gemm", "--sweep"}, new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
        assertEquals(2, code);
        assertTrue(err.toString().contains("--sweep belongs to allreduce"), err.toString());
    }

    @Test
    void anUnknownBenchmarkIsNamed() {
        StringWriter err = new StringWriter();
        int code = Sparktune.run(new String[] {"bench", "gemmm"}, new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
        assertEquals(2, code);
        assertTrue(err.toString().contains("unknown benchmark 'gemmm'"), err.toString());
    }
}
