package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ranks as separate JVMs ({@link RingRankProcess}) over loopback: exact results, and a rank killed mid all-reduce. */
@Tag("integration")
class RingProcessesTest {
    private static final Pattern FAILED = Pattern.compile("FAILED at (\\d+): (.*)");

    @TempDir
    Path dir;

    @Test
    void threeProcessesComputeExactCollectives() throws Exception {
        int n = 3;
        List<Process> ranks = start(n, 60, "exact");
        try {
            for (int r = 0; r < n; r++) {
                assertTrue(ranks.get(r).waitFor(120, TimeUnit.SECONDS), "rank " + r + " did not finish");
                assertEquals(0, ranks.get(r).exitValue(), "rank " + r + ": " + Files.readString(log(r)));
                // started without --add-modules=jdk.incubator.vector: the plain loops, not a failure to load the Vector API
                assertTrue(Files.readString(log(r)).contains("reduction kernel: scalar"), Files.readString(log(r)));
            }
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
        List<DataInputStream> results = new ArrayList<>();
        try {
            for (int r = 0; r < n; r++) {
                results.add(new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(dir.resolve("result-" + r + ".bin")))));
            }
            for (int size : RingRankProcess.EXACT_SIZES) {
                float[][] sums = new float[n][size];
                double[][] means = new double[n][size];
                float[][] gathered = new float[n][size];
                double[][] broadcast = new double[n][size];
                for (int r = 0; r < n; r++) {
                    DataInputStream in = results.get(r);
                    for (int i = 0; i < size; i++) {
                        sums[r][i] = in.readFloat();
                    }
                    for (int i = 0; i < size; i++) {
                        means[r][i] = in.readDouble();
                    }
                    for (int i = 0; i < size; i++) {
                        gathered[r][i] = in.readFloat();
                    }
                    for (int i = 0; i < size; i++) {
                        broadcast[r][i] = in.readDouble();
                    }
                }
                float[][] floatInputs = CollectiveContractTest.floatInputs(n, size, size);
                double[][] doubleInputs = CollectiveContractTest.doubleInputs(n, size, size + 1L);
                float[] fullGather = CollectiveContractTest.floatInputs(1, size, 77)[0];
                double[] root = CollectiveContractTest.doubleInputs(n, size, size + 2L)[n - 1];
                for (int r = 0; r < n; r++) {
                    assertArrayEquals(sums[0], sums[r], "rank " + r + " holds other bits than rank 0");
                    assertArrayEquals(means[0], means[r], "rank " + r + " holds other bits than rank 0");
                    assertArrayEquals(fullGather, gathered[r]);
                    assertArrayEquals(root, broadcast[r]);
                }
                for (int i = 0; i < size; i++) {
                    CollectiveContractTest.checkReduced(Reduction.SUM, n, i, sums[0][i], floatInputs, Math.ulp(1.0f) / 2);
                    CollectiveContractTest.checkReduced(Reduction.AVERAGE, n, i, means[0][i], doubleInputs, Math.ulp(1.0));
                }
            }
            for (DataInputStream in : results) {
                assertEquals(-1, in.read(), "a rank wrote more results than expected");
            }
        } finally {
            for (InputStream in : results) {
                in.close();
            }
        }
    }

    @Test
    void killingOneProcessMidAllReduceFailsEveryOtherRankWithinTheTimeoutNamingAPeer() throws Exception {
        int n = 4;
        int timeoutSeconds = 5;
        int victim = 2;
        List<Process> ranks = start(n, timeoutSeconds, "loop");
        try {
            for (int r = 0; r < n; r++) {
                awaitLine(r, "READY", 120);
            }
            long killedAt = System.currentTimeMillis();
            ranks.get(victim).destroyForcibly();
            String victimAddress = Files.readString(dir.resolve("address-" + victim));
            List<String> messages = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                if (r == victim) {
                    continue;
                }
                assertTrue(ranks.get(r).waitFor(timeoutSeconds + 10, TimeUnit.SECONDS), "rank " + r + " still runs: it hangs");
                String out = Files.readString(log(r));
                assertEquals(RingRankProcess.EXIT_COLLECTIVE_FAILED, ranks.get(r).exitValue(), "rank " + r + ": " + out);
                Matcher m = FAILED.matcher(out);
                assertTrue(m.find(), out);
                long after = Long.parseLong(m.group(1)) - killedAt;
                String message = m.group(2);
                System.out.printf("rank %d failed %d ms after rank %d was killed: %s%n", r, after, victim, message);
                assertTrue(after < timeoutSeconds * 1000L, "rank " + r + " failed " + after + " ms after the kill: " + message);
                assertTrue(Pattern.compile("rank \\d \\(127\\.0\\.0\\.1:\\d+\\)").matcher(message).find(), message);
                messages.add(message);
            }
            // a neighbour of the victim names it; which one sees it first is a race (the rank after it may first find
            // its own next rank gone, that rank having failed already on the way round the ring)
            assertTrue(messages.stream().anyMatch(m -> m.contains("rank " + victim + " (" + victimAddress + ")")),
                    messages.toString());
        } finally {
            ranks.forEach(Process::destroyForcibly);
            for (Process p : ranks) {
                p.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    private List<Process> start(int n, int timeoutSeconds, String task) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", classpath));
            String log4j = System.getProperty("log4j2.configurationFile");
            if (log4j != null) {
                command.add("-Dlog4j2.configurationFile=" + log4j);
            }
            command.addAll(List.of(RingRankProcess.class.getName(), dir.toString(), Integer.toString(r), Integer.toString(n),
                    Integer.toString(timeoutSeconds), task));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log(r).toFile());
            builder.environment().put("RING_SECRET", "secret-of-the-process-test");
            ranks.add(builder.start());
        }
        return ranks;
    }

    private Path log(int rank) {
        return dir.resolve("rank-" + rank + ".log");
    }

    private void awaitLine(int rank, String line, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log(rank)) && Files.readAllLines(log(rank)).contains(line)) {
                return;
            }
            Thread.sleep(50);
        }
        fail("rank " + rank + " never printed " + line + ": " + (Files.exists(log(rank)) ? Files.readString(log(rank)) : ""));
    }
}
