package dev.sparktune.bench;

import ai.djl.ndarray.types.DataType;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.FlatBuffer;
import dev.sparktune.dist.Reduction;
import dev.sparktune.dist.RingCollective;
import dev.sparktune.dist.RingListener;
import dev.sparktune.dist.RingOptions;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * All-reduce (float32, average) over the TCP ring on loopback, N ranks as threads of this JVM with one connection per
 * ring edge, next to one raw loopback TCP stream measured by the same harness. The buffer is a {@link FlatBuffer}
 * (off-heap), as the training step's gradient buckets are. Bus bandwidth as nccl-tests define it:
 * busbw = algbw x 2(N-1)/N, algbw = buffer bytes / time.
 */
public final class AllReduceBench {
    private static final long MIB = 1 << 20;

    /** One size at one N: seconds per all-reduce, and what they mean in bandwidth. */
    public record Result(int ranks, long bytes, Samples seconds) {
        public Samples busBandwidth() {
            return seconds.map(s -> bytes / s * 2 * (ranks - 1) / ranks);
        }
    }

    /**
     * The all-reduce results, one raw stream's bytes per second and, per N, a raw ring's bytes per second per stream
     * (N loopback streams at once: the ring's traffic with nothing but the sockets), measured in the same run.
     */
    public record Report(List<Result> results, Samples rawTcpBytesPerSecond, Map<Integer, Samples> rawRingBytesPerSecond) {
    }

    /** One cell of {@link #sweep}: N = 2 at one size, chunk size and socket buffer size (0: the kernel's sizing). */
    public record SweepResult(int chunkBytes, int socketBufferBytes, Result result) {
    }

    private AllReduceBench() {
    }

    public static Report run(boolean quick, int repeats) throws Exception {
        RingOptions options = RingOptions.defaults().withNetworkCidr("127.0.0.0/8").withTimeout(Duration.ofSeconds(120));
        long[] sizes = quick ? new long[] {MIB / 4, MIB} : new long[] {MIB, 4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB};
        int[] ranks = quick ? new int[] {2} : new int[] {2, 4};
        List<Double> raw = new ArrayList<>();
        long rawBytes = quick ? 64 * MIB : 1L << 30;
        for (int r = 0; r < repeats; r++) {
            raw.add(rawBytes / rawTcpSeconds(options.chunkBytes(), rawBytes));
        }
        Map<Integer, Samples> rawRing = new TreeMap<>();
        long perStream = quick ? 64 * MIB : 256 * MIB;
        for (int n : ranks) {
            List<Double> rates = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                rates.add(perStream / rawRingSeconds(n, options.chunkBytes(), perStream));
            }
            rawRing.put(n, Samples.of(rates));
        }
        List<Result> results = new ArrayList<>();
        for (int n : ranks) {
            for (long bytes : sizes) {
                List<Double> seconds = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    seconds.add(allReduce(n, (int) (bytes / Float.BYTES), options)[0]);
                }
                results.add(new Result(n, bytes, Samples.of(seconds)));
            }
        }
        return new Report(results, Samples.of(raw), rawRing);
    }

    /**
     * All-reduce at N = 2 over a grid of chunk sizes and socket buffer sizes (0: the kernel's own sizing and
     * autotuning), at 16 and 64 MiB: the measurement behind {@link RingOptions}' defaults. Each repetition visits
     * every cell once, so a drift in the machine's load spreads over all of them.
     */
    public static List<SweepResult> sweep(boolean quick, int repeats) throws Exception {
        RingOptions base = RingOptions.defaults().withNetworkCidr("127.0.0.0/8").withTimeout(Duration.ofSeconds(120));
        long[] sizes = quick ? new long[] {MIB} : new long[] {16 * MIB, 64 * MIB};
        int[] chunks = quick ? new int[] {64 << 10, 256 << 10} : new int[] {64 << 10, 256 << 10, 1 << 20, 4 << 20};
        int[] buffers = quick ? new int[] {0, 4 << 20} : new int[] {0, 1 << 20, 4 << 20};
        Map<List<Long>, List<Double>> seconds = new LinkedHashMap<>();
        for (int r = 0; r < repeats; r++) {
            for (long bytes : sizes) {
                for (int chunk : chunks) {
                    for (int buffer : buffers) {
                        RingOptions options = base.withChunkBytes(chunk).withSocketBufferBytes(buffer);
                        seconds.computeIfAbsent(List.of(bytes, (long) chunk, (long) buffer), k -> new ArrayList<>())
                                .add(allReduce(2, (int) (bytes / Float.BYTES), options)[0]);
                    }
                }
            }
        }
        List<SweepResult> results = new ArrayList<>();
        seconds.forEach((cell, times) -> results.add(new SweepResult(cell.get(1).intValue(), cell.get(2).intValue(),
                new Result(2, cell.get(0), Samples.of(times)))));
        return results;
    }

    /**
     * Wall seconds (the slowest rank) and process CPU seconds per all-reduce of {@code floats} elements on each of n
     * ranks, after one warm-up call.
     */
    public static double[] allReduce(int n, int floats, RingOptions options) throws Exception {
        List<RingListener> listeners = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            listeners.add(RingListener.bind(options));
            addresses.add(listeners.get(r).address());
        }
        byte[] secret = "benchmark-secret-0123456789".getBytes(StandardCharsets.UTF_8);
        long bytes = (long) floats * Float.BYTES;
        int iterations = (int) Math.max(3, Math.min(50, (512 * MIB) / bytes));
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Double>> times = new ArrayList<>();
            long[] cpu = new long[2];
            for (int r = 0; r < n; r++) {
                int rank = r;
                times.add(pool.submit(() -> {
                    try (Collective c = RingCollective.connect(listeners.get(rank), rank, addresses, secret, options)) {
                        FlatBuffer buffer = FlatBuffer.of(DataType.FLOAT32, floats);
                        FloatBuffer values = buffer.asFloatBuffer();
                        for (int i = 0; i < floats; i++) {
                            values.put(i, 1f / (rank + 1));
                        }
                        c.allReduce(buffer, 0, floats, Reduction.SUM);      // warm-up
                        c.barrier();
                        if (rank == 0) {
                            cpu[0] = processCpuNanos();
                        }
                        long start = System.nanoTime();
                        for (int i = 0; i < iterations; i++) {
                            c.allReduce(buffer, 0, floats, Reduction.AVERAGE);
                        }
                        c.barrier();
                        if (rank == 0) {
                            cpu[1] = processCpuNanos();
                        }
                        return (System.nanoTime() - start) / 1e9 / iterations;
                    }
                }));
            }
            double slowest = 0;
            for (Future<Double> t : times) {
                slowest = Math.max(slowest, t.get());
            }
            return new double[] {slowest, (cpu[1] - cpu[0]) / 1e9 / iterations};
        } finally {
            pool.shutdownNow();
        }
    }

    /** Seconds to move {@code total} bytes through one loopback TCP connection, writer and reader on two threads. */
    public static double rawTcpSeconds(int chunkBytes, long total) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try (SocketChannel out = SocketChannel.open(server.getLocalAddress()); SocketChannel in = server.accept()) {
                Future<Long> reader = pool.submit(() -> drain(in, chunkBytes, total));
                ByteBuffer buffer = ByteBuffer.allocateDirect(chunkBytes);
                long start = System.nanoTime();
                for (long sent = 0; sent < total; sent += chunkBytes) {
                    buffer.clear();
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                }
                reader.get();
                return (System.nanoTime() - start) / 1e9;
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * Seconds for {@code n} loopback TCP streams in a ring (i sends to i + 1), all at once, to carry {@code perStream}
     * bytes each: the ring's traffic pattern with nothing but the sockets, a writer and a reader thread per stream as
     * the ring has a sender and a receiver per rank. An all-reduce whose busbw equals perStream / seconds moves its
     * data as fast as this raw ring; on a machine with fewer cores than threads one raw stream alone is no yardstick.
     */
    public static double rawRingSeconds(int n, int chunkBytes, long perStream) throws Exception {
        List<ServerSocketChannel> servers = new ArrayList<>();
        List<SocketChannel> channels = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(2 * n);
        try {
            for (int i = 0; i < n; i++) {
                ServerSocketChannel server = ServerSocketChannel.open();
                servers.add(server);
                server.bind(new InetSocketAddress("127.0.0.1", 0));
                channels.add(SocketChannel.open(server.getLocalAddress()));
                channels.add(server.accept());
            }
            long start = System.nanoTime();
            List<Future<?>> streams = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                SocketChannel out = channels.get(2 * i);
                SocketChannel in = channels.get(2 * i + 1);
                streams.add(pool.submit(() -> drain(in, chunkBytes, perStream)));
                streams.add(pool.submit(() -> fill(out, chunkBytes, perStream)));
            }
            for (Future<?> stream : streams) {
                stream.get();
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            pool.shutdownNow();
            for (SocketChannel channel : channels) {
                channel.close();
            }
            for (ServerSocketChannel server : servers) {
                server.close();
            }
        }
    }

    private static Void fill(SocketChannel out, int chunkBytes, long total) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(chunkBytes);
        for (long sent = 0; sent < total; sent += chunkBytes) {
            buffer.clear();
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
        }
        return null;
    }

    /** CPU time of this whole process (every thread), which stays meaningful when other jobs share the cores. */
    public static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static long drain(SocketChannel in, int chunkBytes, long total) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(chunkBytes);
        long received = 0;
        while (received < total) {
            buffer.clear();
            int n = in.read(buffer);
            if (n < 0) {
                throw new IOException("closed early");
            }
            received += n;
        }
        return received;
    }
}
