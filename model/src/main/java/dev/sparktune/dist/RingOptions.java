package dev.sparktune.dist;

import dev.sparktune.config.DistConfig;
import java.time.Duration;

/**
 * How a {@link RingCollective} talks: how long any wait may last before the collective fails, which IPv4 block
 * its listener binds in (null: the host's first non-loopback IPv4 address, else loopback), the size of the
 * chunks a buffer is cut into so that sending, receiving and reducing overlap, the send and receive buffers asked of
 * the kernel for each connection (0: the kernel's own sizing and autotuning), whether float reductions
 * (gradients) travel as bfloat16 (half the bytes; every hop rounds the partial sum to 8 significant bits; off by
 * default), and whether every frame is sealed with AES-GCM ({@link RingEncryption}). All-gathers and broadcasts
 * (parameters) and double buffers always travel exact.
 */
public record RingOptions(Duration timeout, String networkCidr, int chunkBytes, int socketBufferBytes,
                          boolean bf16Reductions, RingEncryption encryption) {
    public static final int DEFAULT_CHUNK_BYTES = 256 * 1024;
    public static final int DEFAULT_SOCKET_BUFFER_BYTES = 4 << 20;

    public RingOptions {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the collective timeout must be positive, got " + timeout);
        }
        if (chunkBytes < 64 || chunkBytes % 8 != 0) {
            throw new IllegalArgumentException("chunkBytes must be a multiple of 8 and at least 64, got " + chunkBytes);
        }
        if (socketBufferBytes < 0) {
            throw new IllegalArgumentException("socketBufferBytes must be 0 (the kernel's sizing) or positive, got "
                    + socketBufferBytes);
        }
        if (encryption == null) {
            throw new IllegalArgumentException("encryption must be none or aes-gcm, got null");
        }
    }

    /**
     * 300 s timeout, any non-loopback IPv4 interface, 256 KiB chunks, 4 MiB socket buffers, exact float reductions,
     * no encryption. On loopback, chunks of 256 KiB to 4 MiB with socket buffers of 1 MiB, 4 MiB or the kernel's own
     * sizing measured alike, and 64 KiB chunks slower (BENCHMARKS.md, {@code sparktune bench allreduce --sweep}).
     */
    public static RingOptions defaults() {
        return new RingOptions(Duration.ofSeconds(300), null, DEFAULT_CHUNK_BYTES, DEFAULT_SOCKET_BUFFER_BYTES, false,
                RingEncryption.NONE);
    }

    /**
     * The job config's {@code dist.collective_timeout_seconds} and {@code dist.network_cidr}; the encryption, whose
     * default depends on the cluster, is set by the caller ({@link #withEncryption}).
     */
    public static RingOptions from(DistConfig dist) {
        return defaults().withTimeout(Duration.ofSeconds(dist.collectiveTimeoutSeconds())).withNetworkCidr(dist.networkCidr());
    }

    public RingOptions withTimeout(Duration value) {
        return new RingOptions(value, networkCidr, chunkBytes, socketBufferBytes, bf16Reductions, encryption);
    }

    public RingOptions withNetworkCidr(String value) {
        return new RingOptions(timeout, value, chunkBytes, socketBufferBytes, bf16Reductions, encryption);
    }

    public RingOptions withChunkBytes(int value) {
        return new RingOptions(timeout, networkCidr, value, socketBufferBytes, bf16Reductions, encryption);
    }

    public RingOptions withSocketBufferBytes(int value) {
        return new RingOptions(timeout, networkCidr, chunkBytes, value, bf16Reductions, encryption);
    }

    public RingOptions withBf16Reductions(boolean value) {
        return new RingOptions(timeout, networkCidr, chunkBytes, socketBufferBytes, value, encryption);
    }

    public RingOptions withEncryption(RingEncryption value) {
        return new RingOptions(timeout, networkCidr, chunkBytes, socketBufferBytes, bf16Reductions, value);
    }
}
