package dev.sparktune.bench;

import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingEncryption;
import dev.sparktune.dist.RingOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
