package dev.sparktune.dist;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank of a multi-process ring test, run in its own JVM: binds, publishes its address as a file in a shared
 * folder (the stand-in for {@code BarrierTaskContext.allGather}), waits for everyone's, joins the ring and runs a
 * task. Arguments: folder, rank, world size, timeout in seconds, task ({@code exact} or {@code loop}); the job
 * secret comes in the environment variable {@code RING_SECRET}.
 */
public final class RingRankProcess {
    static final int[] EXACT_SIZES = {0, 1, 2, 3, 13, 100_003};
    static final int EXIT_COLLECTIVE_FAILED = 3;

    private RingRankProcess() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int rank = Integer.parseInt(args[1]);
        int world = Integer.parseInt(args[2]);
        RingOptions options = LoopbackRing.options(Duration.ofSeconds(Integer.parseInt(args[3])));
        byte[] secret = System.getenv("RING_SECRET").getBytes(StandardCharsets.UTF_8);
        RingListener listener = RingListener.bind(options);
        Path tmp = dir.resolve("address-" + rank + ".tmp");
        Files.writeString(tmp, listener.address());
        Files.move(tmp, dir.resolve("address-" + rank), StandardCopyOption.ATOMIC_MOVE);
        System.out.println("reduction kernel: " + RingCollective.reductionKernel());
        List<String> addresses = awaitAddresses(dir, world, options.timeout());
        try (RingCollective ring = RingCollective.connect(listener, rank, addresses, secret, options)) {
            if (args[4].equals("exact")) {
                exact(ring, dir.resolve("result-" + rank + ".bin"));
            } else {
                loop(ring);
            }
        } catch (CollectiveException e) {
            System.out.println("FAILED at " + System.currentTimeMillis() + ": " + e.getMessage());
            System.out.flush();
            System.exit(EXIT_COLLECTIVE_FAILED);
        }
    }

    /** For each size: float all-reduce (sum), double all-reduce (average), float all-gather, double broadcast from the last rank. */
    private static void exact(Collective c, Path out) throws IOException {
        int n = c.worldSize();
        try (OutputStream file = Files.newOutputStream(out); DataOutputStream data = new DataOutputStream(file)) {
            for (int size : EXACT_SIZES) {
                float[] f = CollectiveContractTest.floatInputs(n, size, size)[c.rank()];
                c.allReduce(f, 0, size, Reduction.SUM);
                double[] d = CollectiveContractTest.doubleInputs(n, size, size + 1L)[c.rank()];
                c.allReduce(d, 0, size, Reduction.AVERAGE);
                float[] g = gatherInput(n, size, c.rank());
                c.allGather(g, 0, size);
                double[] b = CollectiveContractTest.doubleInputs(n, size, size + 2L)[c.rank()];
                c.broadcast(b, 0, size, n - 1);
                for (float v : f) {
                    data.writeFloat(v);
                }
                for (double v : d) {
                    data.writeDouble(v);
                }
                for (float v : g) {
                    data.writeFloat(v);
                }
                for (double v : b) {
                    data.writeDouble(v);
                }
            }
        }
    }

    /** The all-gather input: this rank's shard of a known array, NaN elsewhere. */
    static float[] gatherInput(int n, int size, int rank) {
        float[] full = CollectiveContractTest.floatInputs(1, size, 77)[0];
        float[] mine = new float[size];
        java.util.Arrays.fill(mine, Float.NaN);
        Shards shards = new Shards(size, n);
        for (long i = shards.start(rank); i < shards.end(rank); i++) {
            mine[(int) i] = full[(int) i];
        }
        return mine;
    }

    /** All-reduces 16 MiB over and over, so that a kill lands mid-call. */
    private static void loop(Collective c) {
        float[] b = new float[1 << 22];
        long until = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        for (int i = 0; System.nanoTime() < until; i++) {
            c.allReduce(b, 0, b.length, Reduction.AVERAGE);
            if (i == 0) {
                System.out.println("READY");
                System.out.flush();
            }
        }
    }

    private static List<String> awaitAddresses(Path dir, int world, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            Path file = dir.resolve("address-" + r);
            while (!Files.exists(file)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("rank " + r + " never published its address in " + dir);
                }
                Thread.sleep(20);
            }
            addresses.add(Files.readString(file));
        }
        return addresses;
    }
}
