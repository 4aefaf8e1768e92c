package dev.sparktune.dist;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The collective over TCP: rank r holds one connection to rank r+1 (it sends) and one from rank r-1 (it
 * receives), authenticated with the job secret and kept open for the job. Operations follow {@link RingPlan};
 * the calling thread receives and reduces while this rank's sender thread streams chunks to the next rank, so
 * sending, receiving and reducing overlap, and TCP's own window is the only flow control, between neighbours.
 *
 * <p>Failure is loud and fast: any error (the peer died, a socket broke, no progress within the timeout, ranks
 * calling different operations) makes this rank's call throw {@link CollectiveException} naming the peer, and
 * closes both connections, so the neighbours' pending calls fail at once and the failure travels around the
 * ring. After a failure every call throws.
 *
 * <p>One thread at a time calls a rank's operations (the calling thread does the receiving); {@link #close()}
 * may come from any thread.
 */
public final class RingCollective implements Collective {
    private static final int MAX_CALL_BYTES = 4096;
    /** Up to this long (at least half) between dials to a listener that was busy with strangers. */
    private static final long BUSY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final int rank;
    private final int world;
    private final List<String> addresses;
    private final RingOptions options;
    private final long timeoutNanos;
    private final Link toNext;
    private final Link fromPrev;
    private final Thread sender;
    private final SynchronousQueue<Outgoing> outgoing = new SynchronousQueue<>();
    private final ByteBuffer receiveBuffer;
    private final Object progress = new Object();
    private long received;              // chunks received in the current call, guarded by progress
    private volatile CollectiveException failure;
    private long calls;

    private RingCollective(int rank, List<String> addresses, RingOptions options, Link toNext, Link fromPrev) {
        this.rank = rank;
        this.world = addresses.size();
        this.addresses = List.copyOf(addresses);
        this.options = options;
        this.timeoutNanos = options.timeout().toNanos();
        this.toNext = toNext;
        this.fromPrev = fromPrev;
        this.receiveBuffer = ByteBuffer.allocateDirect(options.chunkBytes()).order(ByteOrder.LITTLE_ENDIAN);
        if (world > 1) {
            sender = new Thread(this::sendLoop, "sparktune-ring-send-" + rank);
            sender.setDaemon(true);
            sender.start();
        } else {
            sender = null;
        }
    }

    /**
     * Joins the ring: {@code addresses.get(r)} is rank r's {@link RingListener#address()}, this rank's among them.
     * Waits up to the timeout for both neighbours; closes {@code listener} when done, whatever the outcome.
     *
     * @param secret the job's secret, the same on every rank, at least 16 bytes
     */
    public static RingCollective connect(RingListener listener, int rank, List<String> addresses, byte[] secret,
            RingOptions options) {
        int world = addresses.size();
        try (listener) {
            if (rank < 0 || rank >= world) {
                throw new IllegalArgumentException("rank " + rank + " is not a rank of a world of " + world);
            }
            if (!addresses.get(rank).equals(listener.address())) {
                throw new IllegalArgumentException("addresses[" + rank + "] is " + addresses.get(rank)
                        + " but this rank listens on " + listener.address() + "; pass the addresses in rank order");
            }
            Handshake handshake = new Handshake(secret, world, options.encryption());
            if (world == 1) {
                return new RingCollective(rank, addresses, options, null, null);
            }
            int next = (rank + 1) % world;
            int prev = (rank - 1 + world) % world;
            long timeout = options.timeout().toNanos();
            FutureTask<Link> accepting = new FutureTask<>(
                    () -> listener.accept(handshake, rank, prev, name(prev, addresses), timeout));
            Thread acceptor = new Thread(accepting, "sparktune-ring-accept-" + rank);
            acceptor.setDaemon(true);
            acceptor.start();
            Link toNext = null;
            try {
                toNext = dialNext(handshake, rank, next, addresses, timeout, options.socketBufferBytes());
                Link fromPrev = accepting.get();
                return new RingCollective(rank, addresses, options, toNext, fromPrev);
            } catch (RuntimeException | ExecutionException | InterruptedException e) {
                if (toNext != null) {
                    toNext.close();
                }
                listener.close();           // wakes the acceptor
                joinQuietly(acceptor);
                if (accepting.isDone() && !accepting.isCancelled()) {
                    try {
                        accepting.get().close();
                    } catch (ExecutionException | InterruptedException ignored) {
                        // it failed too; nothing to close
                    }
                }
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                throw new CollectiveException("rank " + rank + " could not join the ring: " + cause, cause);
            } finally {
                joinQuietly(acceptor);
            }
        }
    }

    /**
     * The authenticated connection to rank {@code next}. A listener that closes the connection before its hello is
     * busy with strangers ({@link Handshake.Busy}): it is dialled again after a short random pause, until the timeout.
     */
    private static Link dialNext(Handshake handshake, int rank, int next, List<String> addresses, long timeoutNanos,
                                 int socketBufferBytes) {
        long deadline = System.nanoTime() + timeoutNanos;
        String peer = name(next, addresses);
        for (int attempt = 0; ; attempt++) {
            Link link = Link.dial(socketAddress(addresses.get(next)), peer, timeoutNanos, socketBufferBytes);
            try {
                handshake.connect(link, rank, next);
                return link;
            } catch (Handshake.Busy e) {
                link.close();
                long pause = ThreadLocalRandom.current().nextLong(BUSY_PAUSE_NANOS / 2, BUSY_PAUSE_NANOS + 1);
                if (System.nanoTime() + pause - deadline > 0) {
                    throw new CollectiveException("rank " + rank + ": " + peer + " closed every connection before the "
                            + "handshake for " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s (" + (attempt + 1)
                            + " tries); something else keeps its listener busy", e);
                }
                try {
                    TimeUnit.NANOSECONDS.sleep(pause);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new CollectiveException("rank " + rank + " was interrupted while dialling " + peer
                            + " again (the task was cancelled)", interrupted);
                }
            } catch (RuntimeException e) {
                link.close();
                throw e;
            }
        }
    }

    /** "vector (512-bit)" or "scalar": how this JVM adds ranks' values (the Vector API needs its module at start). */
    public static String reductionKernel() {
        return SumKernel.best().name();
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return world;
    }

    @Override
    public void allReduce(float[] buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        boolean bf16 = options.bf16Reductions();
        run(region, RingPlan.allReduce(rank, world, length, chunk(region, bf16)), reduction,
                "allReduce(" + reduction + ")", bf16, timeoutNanos);
    }

    @Override
    public void allReduce(double[] buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.allReduce(rank, world, length, chunk(region, false)), reduction,
                "allReduce(" + reduction + ")", false, timeoutNanos);
    }

    @Override
    public void allReduce(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        boolean bf16 = options.bf16Reductions() && region.elementBytes() == Float.BYTES;
        run(region, RingPlan.allReduce(rank, world, length, chunk(region, bf16)), reduction,
                "allReduce(" + reduction + ")", bf16, timeoutNanos);
    }

    @Override
    public void reduceScatter(float[] buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        boolean bf16 = options.bf16Reductions();
        run(region, RingPlan.reduceScatter(rank, world, length, chunk(region, bf16)), reduction, "reduceScatter(" + reduction + ")",
                bf16, timeoutNanos);
    }

    @Override
    public void reduceScatter(double[] buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.reduceScatter(rank, world, length, chunk(region, false)), reduction,
                "reduceScatter(" + reduction + ")", false, timeoutNanos);
    }

    @Override
    public void reduceScatter(FlatBuffer buffer, int offset, int length, Reduction reduction) {
        Region region = Region.of(buffer, offset, length);
        boolean bf16 = options.bf16Reductions() && region.elementBytes() == Float.BYTES;
        run(region, RingPlan.reduceScatter(rank, world, length, chunk(region, bf16)), reduction,
                "reduceScatter(" + reduction + ")", bf16, timeoutNanos);
    }

    @Override
    public void allGather(float[] buffer, int offset, int length) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.allGather(rank, world, length, chunk(region, false)), Reduction.SUM,
                "allGather", false, timeoutNanos);
    }

    @Override
    public void allGather(double[] buffer, int offset, int length) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.allGather(rank, world, length, chunk(region, false)), Reduction.SUM,
                "allGather", false, timeoutNanos);
    }

    @Override
    public void allGather(FlatBuffer buffer, int offset, int length) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.allGather(rank, world, length, chunk(region, false)), Reduction.SUM,
                "allGather", false, timeoutNanos);
    }

    @Override
    public void broadcast(float[] buffer, int offset, int length, int root) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.broadcast(rank, world, length, checkRoot(root), chunk(region, false)), Reduction.SUM,
                "broadcast(root " + root + ")", false, timeoutNanos);
    }

    @Override
    public void broadcast(double[] buffer, int offset, int length, int root) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.broadcast(rank, world, length, checkRoot(root), chunk(region, false)), Reduction.SUM,
                "broadcast(root " + root + ")", false, timeoutNanos);
    }

    @Override
    public void broadcast(FlatBuffer buffer, int offset, int length, int root) {
        Region region = Region.of(buffer, offset, length);
        run(region, RingPlan.broadcast(rank, world, length, checkRoot(root), chunk(region, false)), Reduction.SUM,
                "broadcast(root " + root + ")", false, timeoutNanos);
    }

    /** An all-gather of one element per rank: it completes only after data from every rank has arrived here. */
    @Override
    public void barrier() {
        barrier(timeoutNanos);
    }

    /** As {@link #barrier()}; every wait of this call, the receiving and the sender thread's, lasts up to {@code timeout}. */
    @Override
    public void barrier(Duration timeout) {
        barrier(timeout.toNanos());
    }

    private void barrier(long timeout) {
        Region region = Region.of(new float[world], 0, world);
        run(region, RingPlan.allGather(rank, world, world, chunk(region, false)), Reduction.SUM, "barrier", false, timeout);
    }

    /** Closes both connections and stops the sender thread; the neighbours' pending and next calls then fail. */
    @Override
    public void close() {
        fail(new CollectiveException("rank " + rank + " (" + addresses.get(rank) + ") closed its collective"));
        if (sender != null) {
            joinQuietly(sender);
        }
    }

    private void run(Region region, RingPlan plan, Reduction reduction, String operation, boolean bf16, long timeout) {
        CollectiveException failed = failure;
        if (failed != null) {
            throw new CollectiveException("rank " + rank + " cannot run " + operation + ": the collective is unusable after: "
                    + failed.getMessage(), failed);
        }
        long call = ++calls;
        if (world == 1) {
            return;                         // one rank: the sum, the average, every shard and the root are its own
        }
        String description = "call " + call + ": " + operation + " of " + region.length() + " " + region.type() + "s"
                + (bf16 ? " as bfloat16" : "");
        Outgoing job = new Outgoing(region, plan, description, bf16, timeout);
        synchronized (progress) {
            received = 0;
        }
        try {
            handOver(job);
            receive(region, plan, reduction, description, bf16, timeout);
            job.sent.get(timeout, TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw failWith(e.getCause() instanceof CollectiveException c ? c
                    : new CollectiveException("rank " + rank + " failed sending " + description + ": " + e.getCause(), e.getCause()));
        } catch (TimeoutException e) {
            throw failWith(new CollectiveException("rank " + rank + " timed out sending " + description + " to " + toNext.peer()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failWith(new CollectiveException("rank " + rank + " was interrupted during " + description, e));
        } catch (RuntimeException e) {
            throw failWith(e instanceof CollectiveException c ? c
                    : new CollectiveException("rank " + rank + " failed during " + description + ": " + e, e));
        }
    }

    private void handOver(Outgoing job) throws InterruptedException {
        long start = System.nanoTime();
        while (!outgoing.offer(job, 50, TimeUnit.MILLISECONDS)) {
            if (failure != null) {
                throw failure;
            }
            if (System.nanoTime() - start > job.timeout) {
                throw new CollectiveException("rank " + rank + ": its sender thread did not take " + job.description);
            }
        }
    }

    /**
     * Fails the collective and returns what the caller should throw: the first failure, which names the peer that
     * broke; a later one (this rank's own closed socket, say) only follows from it.
     */
    private CollectiveException failWith(CollectiveException e) {
        fail(e);
        CollectiveException first = failure;
        if (first != e) {
            first = new CollectiveException(first.getMessage(), first);
            first.addSuppressed(e);
        }
        return first;
    }

    private void receive(Region region, RingPlan plan, Reduction reduction, String description, boolean bf16,
                         long timeout) {
        String during = "during " + description;
        checkSameCall(description, during, timeout);
        int elementBytes = bf16 ? 2 : region.elementBytes();
        for (int t = 0; t < plan.receives.size(); t++) {
            RingPlan.Step step = plan.receives.get(t);
            for (int from = step.from(); from < step.to(); from += plan.chunk) {
                int count = Math.min(plan.chunk, step.to() - from);
                boolean average = t == plan.reducedAt && reduction == Reduction.AVERAGE;
                boolean divided = false;
                ByteBuffer inPlace = step.accumulate() || bf16 ? null : region.wireView(from, count);
                if (inPlace != null) {
                    // elements that replace this rank's own arrive straight in the region's memory, no copy
                    fromPrev.readFully(inPlace, during, timeout);
                } else {
                    receiveBuffer.clear().limit(count * elementBytes);
                    fromPrev.readFully(receiveBuffer, during, timeout);
                    receiveBuffer.flip();
                    if (step.accumulate() && bf16) {
                        region.accumulateBf16(receiveBuffer, from, count);
                    } else if (step.accumulate()) {
                        // reduced straight out of the receive buffer, the average's division in the same pass
                        region.accumulate(receiveBuffer, from, count, average ? world : 1);
                        divided = true;
                    } else if (bf16) {
                        region.readBf16(receiveBuffer, from, count);
                    } else {
                        region.read(receiveBuffer, from, count);
                    }
                }
                if (average && !divided) {
                    region.divide(from, from + count, world);
                }
                if (t == plan.reducedAt && bf16) {
                    // the owner keeps what the others will receive from it, so every rank holds the same bits
                    region.roundToBf16(from, from + count);
                }
                synchronized (progress) {
                    received++;
                    progress.notifyAll();
                }
            }
        }
    }

    /** Every call starts with its description, sent to the next rank: ranks out of step fail at once, by name. */
    private void checkSameCall(String description, String during, long timeout) {
        ByteBuffer size = ByteBuffer.allocate(4);
        fromPrev.readFully(size, during, timeout);
        int bytes = size.flip().getInt();
        if (bytes < 0 || bytes > MAX_CALL_BYTES) {
            throw new CollectiveException("rank " + rank + " received garbage from " + fromPrev.peer() + " " + during
                    + " (a call header of " + bytes + " bytes)");
        }
        ByteBuffer text = ByteBuffer.allocate(bytes);
        fromPrev.readFully(text, during, timeout);
        String theirs = new String(text.array(), StandardCharsets.UTF_8);
        if (!theirs.equals(description)) {
            throw new CollectiveException("ranks called different collectives: rank " + rank + " " + description + ", "
                    + fromPrev.peer() + " " + theirs + "; every rank must call the same operations in the same order");
        }
    }

    private void sendLoop() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(options.chunkBytes()).order(ByteOrder.LITTLE_ENDIAN);
        while (failure == null) {
            Outgoing job;
            try {
                job = outgoing.take();
            } catch (InterruptedException e) {
                return;
            }
            try {
                send(job, buffer);
                job.sent.complete(null);
            } catch (RuntimeException e) {
                job.sent.completeExceptionally(e);
                fail(e instanceof CollectiveException c ? c
                        : new CollectiveException("rank " + rank + " failed sending " + job.description + ": " + e, e));
            }
        }
    }

    private void send(Outgoing job, ByteBuffer buffer) {
        String during = "during " + job.description;
        byte[] call = job.description.getBytes(StandardCharsets.UTF_8);
        toNext.writeFully(ByteBuffer.allocate(4 + call.length).putInt(call.length).put(call).flip(), during, job.timeout);
        RingPlan plan = job.plan;
        for (int t = 0; t < plan.sends.size(); t++) {
            RingPlan.Step step = plan.sends.get(t);
            int after = plan.sendAfter.get(t);
            int c = 0;
            for (int from = step.from(); from < step.to(); from += plan.chunk, c++) {
                if (after >= 0) {
                    awaitReceived(plan.receivedThrough(after, c), during, job.timeout);
                }
                int count = Math.min(plan.chunk, step.to() - from);
                // off-heap elements go to the socket straight from the region's memory, others through the buffer
                ByteBuffer out = job.bf16 ? null : job.region.wireView(from, count);
                if (out == null) {
                    buffer.clear();
                    if (job.bf16) {
                        job.region.writeBf16(buffer, from, count);
                    } else {
                        job.region.write(buffer, from, count);
                    }
                    out = buffer.flip();
                }
                toNext.writeFully(out, during, job.timeout);
            }
        }
    }

    private void awaitReceived(long chunks, String during, long timeout) {
        synchronized (progress) {
            long start = System.nanoTime();
            // a backstop only: the receiving thread times out first (it waits for the same data) and wakes us
            long limit = 2 * timeout;
            while (received < chunks) {
                if (failure != null) {
                    throw failure;
                }
                long left = limit - (System.nanoTime() - start);
                if (left <= 0) {
                    throw new CollectiveException("rank " + rank + " timed out waiting for data from " + fromPrev.peer() + " "
                            + during);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(progress, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CollectiveException("rank " + rank + "'s sender was interrupted " + during, e);
                }
            }
        }
    }

    /** Records the first failure and closes both connections, which is what tells the neighbours. */
    private void fail(CollectiveException cause) {
        synchronized (progress) {
            if (failure == null) {
                failure = cause;
            }
            progress.notifyAll();
        }
        if (toNext != null) {
            toNext.close();
            fromPrev.close();
        }
        if (sender != null && Thread.currentThread() != sender) {
            sender.interrupt();
        }
    }

    private int chunk(Region region, boolean bf16) {
        return options.chunkBytes() / (bf16 ? 2 : region.elementBytes());
    }

    private int checkRoot(int root) {
        if (root < 0 || root >= world) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of a world of " + world);
        }
        return root;
    }

    private static String name(int rank, List<String> addresses) {
        return "rank " + rank + " (" + addresses.get(rank) + ")";
    }

    private static InetSocketAddress socketAddress(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected host:port, got '" + hostPort + "'");
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private static void joinQuietly(Thread thread) {
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One call's work for the sender thread, each of whose waits lasts up to {@code timeout} nanoseconds. */
    private record Outgoing(Region region, RingPlan plan, String description, boolean bf16, long timeout,
                            CompletableFuture<Void> sent) {
        Outgoing(Region region, RingPlan plan, String description, boolean bf16, long timeout) {
            this(region, plan, description, bf16, timeout, new CompletableFuture<>());
        }
    }
}
