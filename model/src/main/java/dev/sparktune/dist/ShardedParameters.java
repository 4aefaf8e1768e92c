package dev.sparktune.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.BlockCheckpoints.Outside;
import dev.sparktune.optim.Gradients;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ZeRO stage 3's parameter partitioning (Rajbhandari et al., 2020): between uses each rank keeps 1/N of every float
 * parameter of the model, frozen and trainable, and 1/N of their reduced gradients. The parameters come in groups that
 * a forward reads at one time: each transformer block's, those read before the blocks (embeddings, prompts) and those
 * read only after them (the final norm, BERT's pooler, the output heads; {@link ModelLayout#afterBlocks}).
 * <ul>
 *   <li>{@link #gather} all-gathers a block's parameters into arrays of the model just before the block runs, in
 *       forward and again for its recomputation in backward ({@link BlockCheckpoints}); {@link #gatherOutside} does the
 *       same for the groups outside the blocks, for as long as their arrays are in the step's graph;</li>
 *   <li>{@link #release} after the block's backward reduce-scatters the gradients of its trainable parameters, adds
 *       this rank's shard of them to what earlier micro-batches of the step left, and lets the gathered arrays go
 *       ({@link #releaseOutside} likewise);</li>
 *   <li>{@link DataParallelOptimizer} updates this rank's shard of the trainable parameters in place: nothing is
 *       gathered after an update.</li>
 * </ul>
 * A group's frozen and its trainable parameters are each laid out in flat {@link BucketLayout.Bucket}s of at most
 * {@code allgather_bucket_size} elements (DeepSpeed's "elements all-gathered at a time"; a larger tensor gets a bucket
 * of its own), and every bucket is split into {@link Shards} of the world size like any ZeRO bucket: one all-gather
 * per bucket, and one reduce-scatter per trainable bucket. Packed (quantized) frozen weights stay whole.
 *
 * <p>The blocks are gathered into two pairs of block-sized buffers kept for the whole run. The groups outside the
 * blocks are gathered into tensors allocated for the gather and freed with its release (they hold the embedding table
 * and the head, which small models' blocks are far smaller than), so between steps a rank holds only its shards of
 * them. A tensor over 2 GiB does not fit the flat buffer a bucket is gathered in and stays whole, with a warning.
 *
 * <p>Lifecycle: build it over the loaded model, {@link #partition} it (after a resume has written the checkpoint's
 * values into the whole arrays), train, and {@link #unpartition} it to give the model its whole trained arrays back.
 * Every method that gathers or reduces is a collective call: every rank calls it in the same order. The calls run on
 * a communication thread of this object's, so that the next block's parameters are gathered while a block computes
 * (DeepSpeed's prefetch): after block L's forward gather, block L + 1's starts; after block L's backward gather, block
 * L - 1's, queued before block L's gradient reduction.
 */
public final class ShardedParameters implements BlockCheckpoints.Parameters, AutoCloseable {

    /**
     * One bucket of a group's frozen or trainable parameters, at {@code offset} in the group's gathered elements, with
     * this rank's shard of it and, for a trainable bucket, of its reduced gradients (null for a frozen one).
     */
    private record Part(BucketLayout.Bucket bucket, int offset, FlatBuffer shard, FlatBuffer gradientShard) {
    }

    /** One group's parameters: its frozen and its trainable parts, and how many elements each kind has. */
    private record Group(List<Part> frozen, List<Part> trainable, int frozenLength, int trainableLength) {
        Stream<Part> parts() {
            return Stream.concat(frozen.stream(), trainable.stream());
        }
    }

    /** A block's parameters gathered from every rank's shards, in one of the two pairs of {@link #gatherBuffers}. */
    private record Gathered(int layer, int buffers) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(ShardedParameters.class);
    /** A tensor of more bytes than this does not fit one flat buffer, which the ring gathers into: it stays whole. */
    private static final long LARGEST_PARTITIONED_BYTES = Integer.MAX_VALUE;

    private final TimedCollective collective;
    private final Weights weights;
    private final DataType dtype;
    /** Where the model's arrays are: the groups outside the blocks are gathered there. */
    private final Device device;
    private final List<Group> blocks = new ArrayList<>();
    /** The parameters read before the blocks and those read only after them. */
    private final EnumMap<Outside, Group> outside = new EnumMap<>(Outside.class);
    /** Every group's trainable parts (before the blocks, block by block, after them): {@link #trainableBuckets}' order. */
    private final List<Part> trainableParts;
    /** The names of the tensors in {@link #trainableParts}, sorted. */
    private final SortedSet<String> trainableNames;
    /**
     * Two pairs of block-sized buffers, frozen and trainable, that gathers land in: the block being made into arrays
     * reads one pair while the next block's gather fills the other.
     */
    private final FlatBuffer[][] gatherBuffers = new FlatBuffer[2][2];
    /** The buffer that a block's gradients are reduce-scattered in. */
    private final FlatBuffer gradients;
    /**
     * Every collective call of this class runs on this one thread, in the order the compute thread asked for them,
     * which is the same on every rank: so the next block's gather can run while this block computes.
     */
    private final ExecutorService communication;
    /** The gather already under way for the block expected next, or null. */
    private Future<Gathered> prefetch;
    /** The arrays of the block that is gathered now, or null. */
    private NDManager gathered;
    /** For each side of the blocks gathered now, its arrays: the gathered tensors and views of them. */
    private final EnumMap<Outside, NDManager> gatheredOutside = new EnumMap<>(Outside.class);
    /**
     * Trainable tensors that a backward on this rank has reached since training started. Not cleared by
     * {@link #zeroGradients}: a whole tensor's {@code .grad}, once made, stays defined (zeroed) for every later step,
     * as DJL cannot set it back to none, and the optimizer counts such a tensor as reached; a partitioned one likewise.
     */
    private final Set<String> reached = new HashSet<>();
    private boolean partitioned;

    /**
     * The partitioning of the float arrays of {@code weights}, laid out as {@code layout} says, in buckets of at most
     * {@code bucketSize} elements; {@code trainable} names the ones that train. Nothing moves until {@link #partition}.
     */
    public ShardedParameters(Collective collective, Weights weights, ModelLayout layout, Set<String> trainable,
                             long bucketSize) {
        this.collective = new TimedCollective(collective);
        this.weights = weights;
        NDArray first = weights.asMap().values().stream().filter(t -> t.getDataType().isFloating()).findFirst()
                .orElse(null);
        this.dtype = first == null ? DataType.FLOAT32 : first.getDataType();
        this.device = first == null ? Device.cpu() : first.getDevice();
        // each float array by group: 0 .. L-1 a block, L before the blocks, L + 1 after them
        List<String> prefixes = layout.layerPrefixes();
        int before = prefixes.size();
        int after = before + 1;
        List<SortedMap<String, NDArray>> frozen = new ArrayList<>();
        List<SortedMap<String, NDArray>> trains = new ArrayList<>();
        for (int g = 0; g <= after; g++) {
            frozen.add(new TreeMap<>());
            trains.add(new TreeMap<>());
        }
        List<String> tooLarge = new ArrayList<>();
        weights.asMap().forEach((name, t) -> {
            if (!t.getDataType().isFloating()) {
                return;
            }
            if (t.size() * t.getDataType().getNumOfBytes() > LARGEST_PARTITIONED_BYTES) {
                tooLarge.add(name + " " + t.getShape());
                return;
            }
            if (t.getDataType() != dtype) {
                throw new IllegalArgumentException("ZeRO-3 partitions a model's tensors in one dtype: '" + name
                        + "' is " + t.getDataType() + ", the model " + dtype);
            }
            int group = before;
            for (int layer = 0; layer < prefixes.size() && group == before; layer++) {
                group = name.startsWith(prefixes.get(layer) + ".") ? layer : before;
            }
            if (group == before && layout.afterBlocks().stream().anyMatch(m -> name.startsWith(m + "."))) {
                group = after;
            }
            (trainable.contains(name) ? trains : frozen).get(group).put(name, t);
        });
        if (!tooLarge.isEmpty()) {
            LOG.warn("ZeRO-3 keeps {} whole on every rank: a tensor over 2 GiB does not fit the flat buffer the ring"
                    + " gathers into", tooLarge);
        }
        int largestFrozen = 0;
        int largestTrainable = 0;
        for (int g = 0; g <= after; g++) {
            List<Part> f = parts(BucketLayout.of(frozen.get(g), bucketSize), false);
            List<Part> t = parts(BucketLayout.of(trains.get(g), bucketSize), true);
            Group group = new Group(f, t, length(f), length(t));
            if (g == before) {
                outside.put(Outside.BEFORE_BLOCKS, group);
            } else if (g == after) {
                outside.put(Outside.AFTER_BLOCKS, group);
            } else {
                largestFrozen = Math.max(largestFrozen, group.frozenLength());
                largestTrainable = Math.max(largestTrainable, group.trainableLength());
                blocks.add(group);
            }
        }
        for (FlatBuffer[] pair : gatherBuffers) {
            pair[0] = FlatBuffer.of(dtype, largestFrozen);
            pair[1] = FlatBuffer.of(dtype, largestTrainable);
        }
        this.gradients = FlatBuffer.of(dtype, largestTrainable);
        this.trainableParts = Stream.of(List.of(outside.get(Outside.BEFORE_BLOCKS)), blocks,
                List.of(outside.get(Outside.AFTER_BLOCKS))).flatMap(List::stream).flatMap(g -> g.trainable().stream())
                .toList();
        SortedSet<String> names = new TreeSet<>();
        trainableParts.forEach(part -> part.bucket().pieces().forEach(p -> names.add(p.name())));
        this.trainableNames = Collections.unmodifiableSortedSet(names);
        int rank = collective.rank();
        this.communication = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "zero3-gathers-rank-" + rank);
            thread.setDaemon(true);
            return thread;
        });
    }

    /** {@code layout}'s buckets end to end, each with a zeroed shard (and gradient shard) of this rank's. */
    private List<Part> parts(BucketLayout layout, boolean trainable) {
        List<Part> parts = new ArrayList<>();
        int offset = 0;
        for (BucketLayout.Bucket bucket : layout.buckets()) {
            int owned = ownedTo(bucket) - ownedFrom(bucket);
            parts.add(new Part(bucket, offset, FlatBuffer.of(dtype, owned),
                    trainable ? FlatBuffer.of(dtype, owned) : null));
            offset += bucket.length();
        }
        return List.copyOf(parts);
    }

    private static int length(List<Part> parts) {
        return parts.stream().mapToInt(p -> p.bucket().length()).sum();
    }

    /** The partitioned tensors' dtype. */
    DataType dtype() {
        return dtype;
    }

    /** The names of the trainable tensors this partitioning holds, sorted. */
    public SortedSet<String> trainableNames() {
        return trainableNames;
    }

    /** The groups: before the blocks, the blocks, after them. */
    private Stream<Group> groups() {
        return Stream.of(Stream.of(outside.get(Outside.BEFORE_BLOCKS)), blocks.stream(),
                Stream.of(outside.get(Outside.AFTER_BLOCKS))).flatMap(g -> g);
    }

    /**
     * Keeps this rank's shard of every partitioned tensor and takes the whole arrays out of the model, closing them:
     * from here on a tensor exists only while its group is gathered.
     */
    public void partition() {
        if (partitioned) {
            throw new IllegalStateException("already partitioned");
        }
        groups().flatMap(Group::parts).forEach(this::keepShard);
        partitioned = true;
    }

    private void keepShard(Part part) {
        BucketLayout.Bucket bucket = part.bucket();
        int from = ownedFrom(bucket);
        int to = ownedTo(bucket);
        for (BucketLayout.Piece p : bucket.pieces()) {
            NDArray whole = weights.release(p.name());
            int a = Math.max(from, p.offset());
            int b = Math.min(to, p.end());
            if (a < b) {
                try (NDManager scratch = NDManager.newBaseManager(whole.getDevice());
                     NDArray flat = whole.reshape(-1)) {
                    part.shard().read(flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())), a - from);
                }
            }
            whole.close();
        }
    }

    /** Gives the model whole arrays of every partitioned tensor again, gathered from the shards, in {@code manager}. */
    public void unpartition(NDManager manager) {
        requireNothingGathered();
        dropPrefetch();
        for (int layer = 0; layer < blocks.size(); layer++) {
            Group b = blocks.get(layer);
            Gathered g = await(gatherLater(layer, 0));
            copies(b.frozen(), gatherBuffers[g.buffers()][0], manager).forEach(weights::hold);
            copies(b.trainable(), gatherBuffers[g.buffers()][1], manager).forEach(weights::hold);
        }
        for (Group g : outside.values()) {
            gatherTensors(g.frozen(), g.frozenLength(), manager).forEach(weights::hold);
            gatherTensors(g.trainable(), g.trainableLength(), manager).forEach(weights::hold);
        }
        partitioned = false;
    }

    /** The trainable tensors by name and whole shape, gathered into {@code into}: a checkpoint's parameters. */
    public SortedMap<String, NDArray> trainableTensors(NDManager into) {
        requireNothingGathered();
        dropPrefetch();
        SortedMap<String, NDArray> out = new TreeMap<>();
        for (int layer = 0; layer < blocks.size(); layer++) {
            Gathered g = await(gatherLater(layer, 0));
            out.putAll(copies(blocks.get(layer).trainable(), gatherBuffers[g.buffers()][1], into));
        }
        for (Group g : outside.values()) {
            out.putAll(gatherTensors(g.trainable(), g.trainableLength(), into));
        }
        return out;
    }

    /**
     * The tensors of {@code parts}, {@code length} elements in all, all-gathered from every rank's shards into one new
     * tensor of {@code owner}, as views of it (libtorch's: they keep its memory alive while anything uses them). The
     * ring gathers into CPU memory, a buffer per bucket (one buffer holds at most 2 GiB); on another device the
     * gathered tensor is copied there.
     */
    private SortedMap<String, NDArray> gatherTensors(List<Part> parts, long length, NDManager owner) {
        SortedMap<String, NDArray> out = new TreeMap<>();
        if (parts.isEmpty()) {
            return out;
        }
        NDArray host = owner.zeros(new Shape(length), dtype, Device.cpu());
        await(communication.submit(() -> parts.forEach(part -> gatherInto(part,
                FlatBuffer.over(host.get(new NDIndex("{}:{}", part.offset(), part.offset() + part.bucket().length()))),
                0))));
        NDArray flat = host;
        if (!owner.getDevice().equals(Device.cpu())) {
            flat = host.toDevice(owner.getDevice(), true);
            host.close();
        }
        for (Part part : parts) {
            for (BucketLayout.Piece p : part.bucket().pieces()) {
                NDArray slice = flat.get(new NDIndex("{}:{}", part.offset() + p.offset(), part.offset() + p.end()));
                out.put(p.name(), slice.reshape(p.shape()));
            }
        }
        return out;
    }

    /**
     * Makes the parameters on {@code side} of the blocks arrays of the model, gathered into tensors of their own that
     * {@link #releaseOutside} frees.
     */
    @Override
    public void gatherOutside(Outside side, boolean withGradients) {
        requirePartitioned();
        if (gatheredOutside.containsKey(side)) {
            throw new IllegalStateException("the parameters " + side + " are gathered already");
        }
        Group g = outside.get(side);
        NDManager arrays = NDManager.newBaseManager(device);
        SortedMap<String, NDArray> trainable;
        SortedMap<String, NDArray> frozen;
        try {
            frozen = gatherTensors(g.frozen(), g.frozenLength(), arrays);
            trainable = gatherTensors(g.trainable(), g.trainableLength(), arrays);
        } catch (RuntimeException e) {
            arrays.close();
            throw e;
        }
        frozen.forEach(weights::hold);
        trainable.forEach((name, t) -> {
            t.setRequiresGradient(withGradients);
            weights.hold(name, t);
        });
        gatheredOutside.put(side, arrays);
    }

    @Override
    public void releaseOutside(Outside side, boolean afterBackward) {
        NDManager arrays = gatheredOutside.remove(side);
        if (arrays == null) {
            return;    // the gather itself failed
        }
        Group g = outside.get(side);
        try (arrays) {
            if (afterBackward) {
                reduceGradients(g, (part, scratch) -> new Slot(FlatBuffer.over(scratch.zeros(
                        new Shape(part.bucket().length()), dtype)), 0));
            }
            g.parts().flatMap(part -> part.bucket().pieces().stream()).forEach(p -> weights.release(p.name()));
        }
    }

    /** The tensors of {@code parts}, copied out of the gather buffer {@code gathered} into {@code manager}. */
    private static SortedMap<String, NDArray> copies(List<Part> parts, FlatBuffer gathered, NDManager manager) {
        return arrays(parts, gathered, manager, true);
    }

    /**
     * The tensors of {@code parts} as views of the gather buffer {@code gathered}, no copy. A view is safe while its
     * block is gathered: the next gather into the same buffers starts only after the block is released.
     */
    private static SortedMap<String, NDArray> views(List<Part> parts, FlatBuffer gathered, NDManager manager) {
        return arrays(parts, gathered, manager, false);
    }

    private static SortedMap<String, NDArray> arrays(List<Part> parts, FlatBuffer gathered, NDManager manager,
                                                     boolean copy) {
        SortedMap<String, NDArray> out = new TreeMap<>();
        for (Part part : parts) {
            for (BucketLayout.Piece p : part.bucket().pieces()) {
                int from = part.offset() + p.offset();
                int to = part.offset() + p.end();
                out.put(p.name(), copy ? gathered.copy(manager, from, to, p.shape())
                        : gathered.view(manager, from, to, p.shape()));
            }
        }
        return out;
    }

    /**
     * Makes block {@code layer}'s parameters arrays of the model, from the gather started for it beforehand if there is
     * one, and starts gathering the block expected next: above it in a forward, below it in a backward.
     */
    @Override
    public void gather(int layer, boolean forBackward) {
        requirePartitioned();
        if (gathered != null) {
            throw new IllegalStateException("block " + layer + " gathered while another block still is");
        }
        Gathered g = prefetch == null ? null : await(prefetch);
        prefetch = null;
        if (g == null || g.layer() != layer) {
            g = await(gatherLater(layer, g == null ? 0 : 1 - g.buffers()));    // nothing, or another block, came
        }
        int next = forBackward ? layer - 1 : layer + 1;
        if (next >= 0 && next < blocks.size()) {
            prefetch = gatherLater(next, 1 - g.buffers());
        }
        Group b = blocks.get(layer);
        FlatBuffer[] pair = gatherBuffers[g.buffers()];
        gathered = NDManager.newBaseManager();
        views(b.frozen(), pair[0], gathered).forEach(weights::hold);
        views(b.trainable(), pair[1], gathered).forEach((name, t) -> {
            t.setRequiresGradient(forBackward);
            weights.hold(name, t);
        });
    }

    /** Lets a gather started for a block that did not come finish unused (it is a collective call: never skip it). */
    private void dropPrefetch() {
        if (prefetch != null) {
            await(prefetch);
            prefetch = null;
        }
    }

    /** Starts gathering block {@code layer} into buffer pair {@code buffers} on the communication thread. */
    private Future<Gathered> gatherLater(int layer, int buffers) {
        Group b = blocks.get(layer);
        return communication.submit(() -> {
            b.frozen().forEach(part -> gatherInto(part, gatherBuffers[buffers][0], part.offset()));
            b.trainable().forEach(part -> gatherInto(part, gatherBuffers[buffers][1], part.offset()));
            return new Gathered(layer, buffers);
        });
    }

    /** Every rank's shard of {@code part} into {@code target}, the part's element 0 at {@code at}. */
    private void gatherInto(Part part, FlatBuffer target, int at) {
        BucketLayout.Bucket bucket = part.bucket();
        int from = ownedFrom(bucket);
        part.shard().copyTo(0, ownedTo(bucket) - from, target, at + from);
        if (collective.worldSize() > 1 && bucket.length() > 0) {
            collective.allGather(target, at, bucket.length());
        }
    }

    /**
     * What {@code task} returned, its failure (a {@link CollectiveException}, say) rethrown as it was. An interrupt
     * does not stop the wait: the task may be writing into memory the caller frees next (a collective's timeout
     * bounds it), so it is waited for, and then the interrupt is kept and reported.
     */
    private static <T> T await(Future<T> task) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    T result = task.get();
                    if (interrupted) {
                        throw new IllegalStateException("interrupted while gathering or reducing parameters");
                    }
                    return result;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void release(int layer, boolean afterBackward) {
        if (gathered == null) {
            return;    // the gather itself failed
        }
        Group b = blocks.get(layer);
        if (afterBackward) {
            reduceGradients(b, (part, scratch) -> new Slot(gradients, part.offset()));
        }
        b.parts().flatMap(part -> part.bucket().pieces().stream()).forEach(p -> weights.release(p.name()));
        gathered.close();
        gathered = null;
    }

    /** Where a trainable part's gradients are reduce-scattered: a buffer, the part's element 0 at {@code at}. */
    private record Slot(FlatBuffer buffer, int at) {
    }

    /**
     * Reduce-scatters the gradients backward left on group {@code b}'s gathered trainable arrays (zeros where it
     * reached none), bucket by bucket, each in the buffer {@code slot} gives it (given a CPU scratch manager that lives
     * while the bucket is reduced), and adds this rank's shard of each to the step's gradient shard.
     */
    private void reduceGradients(Group b, BiFunction<Part, NDManager, Slot> slot) {
        for (Part part : b.trainable()) {
            try (NDManager scratch = NDManager.newBaseManager(Device.cpu())) {
                Slot s = slot.apply(part, scratch);
                for (BucketLayout.Piece p : part.bucket().pieces()) {
                    try (NDManager borrowed = NDManager.newBaseManager()) {
                        NDArray grad = Gradients.borrow(p.name(), weights.get(p.name()), borrowed);
                        if (grad != null) {
                            s.buffer().read(grad, s.at() + p.offset());
                            reached.add(p.name());
                        } else {
                            s.buffer().clear(s.at() + p.offset(), s.at() + p.end());
                        }
                    }
                }
                if (collective.worldSize() > 1) {
                    // queued behind the gather of the block below, if one was started, as on every rank
                    await(communication.submit(() -> collective.reduceScatter(s.buffer(), s.at(),
                            part.bucket().length(), Reduction.SUM)));
                }
                int from = ownedFrom(part.bucket());
                s.buffer().addTo(s.at() + from, s.at() + ownedTo(part.bucket()), part.gradientShard(), 0);
            }
        }
    }

    /** The trainable tensors of every group, bucket by bucket, as the optimizer lays them out. */
    List<BucketLayout.Bucket> trainableBuckets() {
        return trainableParts.stream().map(Part::bucket).toList();
    }

    /** Trainable bucket {@code k}'s shard of the parameters, element 0 at the bucket's {@link #ownedFrom}. */
    FlatBuffer trainableShard(int k) {
        return trainableParts.get(k).shard();
    }

    /** Trainable bucket {@code k}'s shard of the step's reduced gradients, laid out as {@link #trainableShard}. */
    FlatBuffer gradientShard(int k) {
        return trainableParts.get(k).gradientShard();
    }

    boolean reached(String name) {
        return reached.contains(name);
    }

    /** Starts the next step's gradients from zero. */
    void zeroGradients() {
        for (Part part : trainableParts) {
            part.gradientShard().clear(0, part.gradientShard().length());
        }
    }

    int ownedFrom(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).start(collective.rank());
    }

    int ownedTo(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).end(collective.rank());
    }

    /** Bytes of the parameter shards (frozen and trainable) this rank holds between steps. */
    public long parameterBytes() {
        return groups().flatMap(Group::parts).mapToLong(part -> part.shard().bytes()).sum();
    }

    /** Bytes of the reduced-gradient shards. */
    long gradientBytes() {
        return trainableParts.stream().mapToLong(part -> part.gradientShard().bytes()).sum();
    }

    /**
     * Stops the communication thread and frees what is still gathered (after a failed step). Memory that a collective
     * may still be writing into is left to the process when the thread does not stop within a minute.
     */
    @Override
    public void close() {
        communication.shutdownNow();
        boolean stopped;
        try {
            stopped = communication.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = false;
        }
        if (stopped) {
            gatheredOutside.values().forEach(NDManager::close);
            gatheredOutside.clear();
            if (gathered != null) {
                gathered.close();
                gathered = null;
            }
        }
    }

    /**
     * Seconds this rank has spent in the gathers and reductions so far, counted on the communication thread: a gather
     * that overlapped computation counts too.
     */
    double communicationSeconds() {
        return collective.seconds();
    }

    private void requirePartitioned() {
        if (!partitioned) {
            throw new IllegalStateException("the parameters are not partitioned (partition() first)");
        }
    }

    /** Partitioned, with nothing gathered: the shards hold every value. */
    private void requireNothingGathered() {
        requirePartitioned();
        if (gathered != null || !gatheredOutside.isEmpty()) {
            throw new IllegalStateException("parameters are gathered (" + (gathered != null ? "a block" : "")
                    + gatheredOutside.keySet() + "): release them first (BlockCheckpoints.endEvaluation after an"
                    + " evaluation)");
        }
    }
}
