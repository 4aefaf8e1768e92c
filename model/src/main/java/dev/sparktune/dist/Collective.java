package dev.sparktune.dist;

import java.time.Duration;

/**
 * Collective communication among the ranks of one data-parallel job, over flat buffers of floats or doubles
 * (doubles serve float64 runs, the equivalence tests' exact mode). Every rank calls the same operations in the
 * same order with regions of the same length; all operations work in place on {@code buffer[offset, offset +
 * length)} and block until this rank's part is done. A {@link FlatBuffer} is such a buffer off the Java heap, which
 * the ring sends from and receives into with no copy through a Java array; within one call every rank passes the same
 * kind of buffer.
 *
 * <p>{@link #reduceScatter} and {@link #allGather} split a region into {@link Shards} of the world size: rank r
 * owns shard r. ZeRO uses exactly that split to decide which parameters a rank updates.
 *
 * <p>Any failure (a peer that died, a broken socket, a call that waited longer than the timeout) throws
 * {@link CollectiveException} naming the peer; after that the collective is unusable and every other rank's
 * pending call fails too.
 */
public interface Collective extends AutoCloseable {

    int rank();

    int worldSize();

    /** Every rank's region becomes the element-wise reduction of all ranks' regions. */
    void allReduce(float[] buffer, int offset, int length, Reduction reduction);

    void allReduce(double[] buffer, int offset, int length, Reduction reduction);

    void allReduce(FlatBuffer buffer, int offset, int length, Reduction reduction);

    /** This rank's shard of the region becomes the reduction of that shard over all ranks; the rest is undefined after. */
    void reduceScatter(float[] buffer, int offset, int length, Reduction reduction);

    void reduceScatter(double[] buffer, int offset, int length, Reduction reduction);

    void reduceScatter(FlatBuffer buffer, int offset, int length, Reduction reduction);

    /** Every rank contributes its own shard of the region; afterwards every rank holds all shards. */
    void allGather(float[] buffer, int offset, int length);

    void allGather(double[] buffer, int offset, int length);

    void allGather(FlatBuffer buffer, int offset, int length);

    /** Every rank's region becomes {@code root}'s. */
    void broadcast(float[] buffer, int offset, int length, int root);

    void broadcast(double[] buffer, int offset, int length, int root);

    void broadcast(FlatBuffer buffer, int offset, int length, int root);

    /** Returns once every rank has called it. */
    void barrier();

    /**
     * A barrier that waits up to {@code timeout} instead of the collective's own timeout: for a wait known to be long,
     * such as the other ranks waiting while rank 0 writes a checkpoint.
     */
    void barrier(Duration timeout);

    /** Releases sockets and threads; pending calls on other ranks then fail. */
    @Override
    void close();
}
