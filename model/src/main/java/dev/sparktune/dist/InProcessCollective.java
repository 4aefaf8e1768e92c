package dev.sparktune.dist;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The collective for ranks that are threads of one JVM: every operation is a rendezvous in which each rank
 * publishes its region, then reads the others' regions directly. No data is copied through buffers and no
 * thread is started.
 *
 * <p>Reductions add the ranks' values in rank order 0, 1, .., N-1 for every element (then divide by N for
 * {@link Reduction#AVERAGE}), so results are bit-identical on every rank and every run. Each wait is bounded by
 * the group's timeout; a timeout, an interrupt, a mismatched call or {@link #close()} of any member breaks the
 * group, and every pending and later call of every member throws {@link CollectiveException}.
 */
public final class InProcessCollective implements Collective {
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);

    private final Group group;
    private final int rank;

    private InProcessCollective(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /** {@code n} members of one group, member r being rank r, waiting at most 300 s in each call. */
    public static List<Collective> group(int n) {
        return group(n, DEFAULT_TIMEOUT);
    }

    /** {@code n} members of one group, member r being rank r, each wait bounded by {@code timeout}. */
    public static List<Collective> group(int n, Duration timeout) {
        if (n < 1) {
            throw new IllegalArgumentException("a group needs at least one rank, got " + n);
        }
        Group group = new Group(n, timeout.toNanos());
        List<Collective> members = new ArrayList<>(n);
        for (int r = 0; r < n; r++) {
            members.add(new InProcessCollective(group, r));
        }
        return Collections.unmodifiableList(members);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return group.n;
    }

    @Override
    public void allReduce(float[] buffer, int offset, int length, Reduction reduction) {
        allReduce(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void allReduce(double[] buffer, int offset, int length, Reduction reduction) {
        allReduce(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void allReduce(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        allReduce(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void reduceScatter(float[] buffer, int offset, int length, Reduction reduction) {
        reduceScatter(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void reduceScatter(double[] buffer, int offset, int length, Reduction reduction) {
        reduceScatter(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void reduceScatter(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        reduceScatter(Region.of(buffer, offset, length), reduction);
    }

    @Override
    public void allGather(float[] buffer, int offset, int length) {
        allGather(Region.of(buffer, offset, length));
    }

    @Override
    public void allGather(double[] buffer, int offset, int length) {
        allGather(Region.of(buffer, offset, length));
    }

    @Override
    public void allGather(FlatBuffer buffer, int offset, int length) {
        allGather(Region.of(buffer, offset, length));
    }

    @Override
    public void broadcast(float[] buffer, int offset, int length, int root) {
        broadcast(Region.of(buffer, offset, length), root);
    }

    @Override
    public void broadcast(double[] buffer, int offset, int length, int root) {
        broadcast(Region.of(buffer, offset, length), root);
    }

    @Override
    public void broadcast(FlatBuffer buffer, int offset, int length, int root) {
        broadcast(Region.of(buffer, offset, length), root);
    }

    @Override
    public void barrier() {
        group.calls[rank] = "barrier";
        group.await(rank);
    }

    @Override
    public void barrier(Duration timeout) {
        group.calls[rank] = "barrier";
        group.await(rank, timeout.toNanos());
    }

    /** Breaks the group: the other members' pending and later calls throw. Closing twice is harmless. */
    @Override
    public void close() {
        group.fail("rank " + rank + " closed its collective");
    }

    private void allReduce(Region mine, Reduction reduction) {
        Region[] all = publish(mine, "allReduce(" + reduction + ")");
        reduceOwnShard(mine, all, reduction);
        group.await(rank);              // every shard reduced in its owner's region
        gatherOtherShards(mine, all);
        group.await(rank);              // nobody reads this rank's region any more
    }

    private void reduceScatter(Region mine, Reduction reduction) {
        Region[] all = publish(mine, "reduceScatter(" + reduction + ")");
        reduceOwnShard(mine, all, reduction);
        group.await(rank);
    }

    private void allGather(Region mine) {
        Region[] all = publish(mine, "allGather");
        gatherOtherShards(mine, all);
        group.await(rank);
    }

    private void broadcast(Region mine, int root) {
        if (root < 0 || root >= group.n) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of a world of " + group.n);
        }
        Region[] all = publish(mine, "broadcast(root " + root + ")");
        if (rank != root) {
            mine.copyFrom(all[root], 0, mine.length());
        }
        group.await(rank);
    }

    /** Publishes this rank's region, waits for every rank's, and checks that all ranks made the same call. */
    private Region[] publish(Region mine, String operation) {
        String call = operation + " of " + mine.length() + " " + mine.type() + "s"
                + (mine instanceof DirectRegion ? " off-heap" : "");    // a reduction reads all ranks' memory alike
        group.regions[rank] = mine;
        group.calls[rank] = call;
        group.await(rank);
        Region[] all = group.regions.clone();
        for (int r = 0; r < group.n; r++) {
            if (!group.calls[r].equals(call)) {
                String message = "ranks called different collectives: rank " + rank + " " + call + ", rank " + r + " "
                        + group.calls[r] + "; every rank must call the same operations in the same order";
                group.fail(message);
                throw new CollectiveException(message);
            }
        }
        return all;
    }

    /** Rank r owns shard r: it alone reads shard r of every region and writes shard r of its own. */
    private void reduceOwnShard(Region mine, Region[] all, Reduction reduction) {
        Shards shards = new Shards(mine.length(), group.n);
        int from = (int) shards.start(rank);
        int to = (int) shards.end(rank);
        mine.sumOf(all, from, to);
        if (reduction == Reduction.AVERAGE) {
            mine.divide(from, to, group.n);
        }
    }

    private void gatherOtherShards(Region mine, Region[] all) {
        Shards shards = new Shards(mine.length(), group.n);
        for (int r = 0; r < group.n; r++) {
            if (r != rank) {
                mine.copyFrom(all[r], (int) shards.start(r), (int) shards.end(r));
            }
        }
    }

    /** The members' shared state: published regions and a reusable barrier that breaks for good on failure. */
    private static final class Group {
        final int n;
        final long timeoutNanos;
        final Region[] regions;
        final String[] calls;
        private final long[] arrivals;
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition passed = lock.newCondition();
        private long generation;
        private int waiting;
        private String failure;

        Group(int n, long timeoutNanos) {
            this.n = n;
            this.timeoutNanos = timeoutNanos;
            this.regions = new Region[n];
            this.calls = new String[n];
            this.arrivals = new long[n];
        }

        void await(int rank) {
            await(rank, timeoutNanos);
        }

        void await(int rank, long timeoutNanos) {
            lock.lock();
            try {
                if (failure != null) {
                    throw new CollectiveException(failure);
                }
                long mine = generation;
                arrivals[rank]++;
                if (++waiting == n) {
                    waiting = 0;
                    generation++;
                    passed.signalAll();
                    return;
                }
                long left = timeoutNanos;
                while (generation == mine && failure == null) {
                    if (left <= 0) {
                        failure = "rank " + rank + " waited " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos)
                                + " s for ranks " + laggards(rank) + ", which never reached the same collective call";
                        passed.signalAll();
                        break;
                    }
                    try {
                        left = passed.awaitNanos(left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        failure = "rank " + rank + " was interrupted while waiting for a collective call";
                        passed.signalAll();
                        throw new CollectiveException(failure, e);
                    }
                }
                if (generation == mine) {
                    throw new CollectiveException(failure);
                }
            } finally {
                lock.unlock();
            }
        }

        void fail(String reason) {
            lock.lock();
            try {
                if (failure == null) {
                    failure = reason;
                }
                passed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        private List<Integer> laggards(int rank) {
            List<Integer> late = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                if (arrivals[r] < arrivals[rank]) {
                    late.add(r);
                }
            }
            return late;
        }
    }
}
