package dev.sparktune.bench;

import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingEncryption;
import dev.sparktune.dist.RingOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Benchmark, not a test: all-reduce (sum, float32) bus bandwidth of {@link RingCollective} over loopback for
 * 1 MiB .. 256 MiB at N = 2 and 4 ranks (threads of this JVM, one TCP connection per ring edge), next to the raw
 * throughput of one loopback TCP stream measured here in the same run. busbw = algbw x 2(N-1)/N, algbw =
 * bytes / time, as nccl-tests define them, with bytes the float32 buffer's size also when the wire carries
 * bfloat16. Prints Markdown for BENCHMARKS.md.
 *
 * <p>With the argument {@code encryption}: N = 2, float32, 1, 16 and 64 MiB with {@code dist.ring_encryption} none and
 * aes-gcm alternating (the same size back to back, so that load drifting between them counts less), next to one
 * thread's AES-256-GCM sealing rate in this JVM.
 */
public final class AllReduceBenchmark {
    private static final long MIB = 1 << 20;
    private static final long[] SIZES = {1 * MIB, 4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB};

    public static void main(String[] args) throws Exception {
        System.out.printf(Locale.ROOT, "load average at start: %s%n", loadAverage());
        RingOptions options = RingOptions.defaults().withNetworkCidr("127.0.0.0/8").withTimeout(Duration.ofSeconds(120));
        if (args.length > 0 && args[0].equals("versus-raw")) {
            versusRaw(options, args.length > 1 ? Integer.parseInt(args[1]) : 3);
            System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
            return;
        }
        if (args.length > 0 && args[0].equals("encryption")) {
            encryptionCost(options);
            System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
            return;
        }
        printRawTcp(options.chunkBytes());
        System.out.println();
        System.out.println("| N | wire | size | time per all-reduce | algbw | busbw | CPU time per all-reduce | bytes sent per CPU second |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (boolean bf16 : new boolean[] {false, true}) {
            for (int n : new int[] {2, 4}) {
                for (long bytes : SIZES) {
                    double[] times = AllReduceBench.allReduce(n, (int) (bytes / Float.BYTES), options.withBf16Reductions(bf16));
                    double seconds = times[0];
                    double algbw = bytes / seconds;
                    double busbw = algbw * 2 * (n - 1) / n;
                    // all ranks together send 2(N-1)/N of the buffer each: 2(N-1) buffers (half that as bfloat16)
                    double sent = 2.0 * (n - 1) * bytes / (bf16 ? 2 : 1);
                    System.out.printf(Locale.ROOT, "| %d | %s | %d MiB | %.1f ms | %.2f GB/s | %.2f GB/s | %.1f ms | %.2f GB |%n", n,
                            bf16 ? "bfloat16" : "float32", bytes / MIB, seconds * 1e3, algbw / 1e9, busbw / 1e9, times[1] * 1e3,
                            sent / times[1] / 1e9);
                }
            }
        }
        System.out.println();
        printRawTcp(options.chunkBytes());
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
    }

    /**
     * Float32 sum-then-average all-reduce next to raw loopback TCP in the same traffic pattern: N streams in a ring,
     * all at once, each carrying 256 MiB (busbw of the raw ring = bytes per stream / time), and one raw stream alone.
     * Each repetition measures the raw ring, then the all-reduce, back to back; medians and min-max over repetitions.
     */
    private static void versusRaw(RingOptions options, int repeats) throws Exception {
        System.out.printf(Locale.ROOT, "reduction kernel: %s; %d KiB chunks; %d repetitions%n", RingCollective.reductionKernel(),
                options.chunkBytes() / 1024, repeats);
        printRawTcp(options.chunkBytes());
        System.out.println();
        System.out.println("| N | size | ring busbw | raw ring busbw | ring / raw ring | ring bytes sent per CPU second | raw ring bytes per CPU second | ratio |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        long perStream = 256 * MIB;
        for (int n : new int[] {2, 4}) {
            for (long bytes : new long[] {1 * MIB, 4 * MIB, 16 * MIB, 64 * MIB}) {
                double[] ring = new double[repeats];
                double[] raw = new double[repeats];
                double[] ringPerCpu = new double[repeats];
                double[] rawPerCpu = new double[repeats];
                for (int r = 0; r < repeats; r++) {
                    long cpu = AllReduceBench.processCpuNanos();
                    double seconds = AllReduceBench.rawRingSeconds(n, options.chunkBytes(), perStream);
                    raw[r] = perStream / seconds;
                    rawPerCpu[r] = n * perStream / ((AllReduceBench.processCpuNanos() - cpu) / 1e9);
                    double[] times = AllReduceBench.allReduce(n, (int) (bytes / Float.BYTES), options);
                    ring[r] = bytes / times[0] * 2 * (n - 1) / n;
                    ringPerCpu[r] = 2.0 * (n - 1) * bytes / times[1];
                }
                System.out.printf(Locale.ROOT, "| %d | %d MiB | %s GB/s | %s GB/s | %.2f | %s GB | %s GB | %.2f |%n", n, bytes / MIB,
                        medianRange(ring), medianRange(raw), median(ring) / median(raw), medianRange(ringPerCpu),
                        medianRange(rawPerCpu), median(ringPerCpu) / median(rawPerCpu));
            }
        }
        System.out.println();
        printRawTcp(options.chunkBytes());
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    private static String medianRange(double[] values) {
        double min = Arrays.stream(values).min().orElseThrow();
        double max = Arrays.stream(values).max().orElseThrow();
        return String.format(Locale.ROOT, "%.2f (%.2f-%.2f)", median(values) / 1e9, min / 1e9, max / 1e9);
    }

    private static void encryptionCost(RingOptions options) throws Exception {
        printRawTcp(options.chunkBytes());
        printAesGcm(options.chunkBytes());
        System.out.println();
        System.out.println("| N | ring_encryption | size | time per all-reduce | busbw | CPU time per all-reduce | bytes sent per CPU second |");
        System.out.println("|---|---|---|---|---|---|---|");
        int n = 2;
        for (long bytes : new long[] {1 * MIB, 16 * MIB, 64 * MIB}) {
            for (RingEncryption encryption : RingEncryption.values()) {
                double[] times = AllReduceBench.allReduce(n, (int) (bytes / Float.BYTES), options.withEncryption(encryption));
                double busbw = bytes / times[0] * 2 * (n - 1) / n;
                double sent = 2.0 * (n - 1) * bytes;
                System.out.printf(Locale.ROOT, "| %d | %s | %d MiB | %.1f ms | %.2f GB/s | %.1f ms | %.2f GB |%n", n,
                        encryption.configName(), bytes / MIB, times[0] * 1e3, busbw / 1e9, times[1] * 1e3,
                        sent / times[1] / 1e9);
            }
        }
        System.out.println();
        printAesGcm(options.chunkBytes());
        printRawTcp(options.chunkBytes());
    }

    /**
     * One thread sealing chunk-sized frames with AES-256-GCM through the JDK's provider, as the ring does, after
     * 256 MiB of warm-up (the JIT's AES and GHASH intrinsics take that long to kick in).
     */
    private static void printAesGcm(int chunkBytes) throws Exception {
        sealSeconds(chunkBytes, 256 * MIB);
        double seconds = sealSeconds(chunkBytes, 1024 * MIB);
        System.out.printf(Locale.ROOT, "AES-256-GCM sealing, one thread, %d KiB frames: %.2f GB/s%n", chunkBytes / 1024,
                1024 * MIB / seconds / 1e9);
    }

    private static double sealSeconds(int chunkBytes, long total) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        SecretKeySpec key = new SecretKeySpec(new byte[32], "AES");
        ByteBuffer plain = ByteBuffer.allocateDirect(chunkBytes);
        ByteBuffer sealed = ByteBuffer.allocate(chunkBytes + 16);
        byte[] nonce = new byte[12];
        long start = System.nanoTime();
        for (long done = 0, frame = 0; done < total; done += chunkBytes, frame++) {
            ByteBuffer.wrap(nonce).putLong(4, frame);
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            plain.clear();
            sealed.clear();
            cipher.doFinal(plain, sealed);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static void printRawTcp(int chunkBytes) throws Exception {
        long total = 2L << 30;
        long cpu = AllReduceBench.processCpuNanos();
        double seconds = AllReduceBench.rawTcpSeconds(chunkBytes, total);
        double cpuSeconds = (AllReduceBench.processCpuNanos() - cpu) / 1e9;
        System.out.printf(Locale.ROOT, "raw loopback TCP, one stream, %d KiB writes: %.2f GB/s, %.2f GB sent per CPU second%n",
                chunkBytes / 1024, total / seconds / 1e9, total / cpuSeconds / 1e9);
    }

    private static String loadAverage() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).trim();
    }
}
