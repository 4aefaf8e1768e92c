package dev.sparktune.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.optim.Gradients;
import java.util.ArrayList;
import java.util.Collections;
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
import java.util.stream.Stream;

/**
 * ZeRO stage 3's parameter partitioning (Rajbhandari et al., 2020) over a model's transformer blocks: between uses
 * each rank keeps 1/N of every block's parameters, frozen and trainable, and 1/N of their reduced gradients.
 * <ul>
 *   <li>{@link #gather} all-gathers a block's parameters into arrays of the model just before the block runs, in
 *       forward and again for its recomputation in backward ({@link BlockCheckpoints});</li>
 *   <li>{@link #release} after the block's backward reduce-scatters the gradients of its trainable parameters, adds
 *       this rank's shard of them to what earlier micro-batches of the step left, and lets the gathered arrays go;</li>
 *   <li>{@link DataParallelOptimizer} updates this rank's shard of the trainable parameters in place: nothing is
 *       gathered after an update.</li>
 * </ul>
 * A block's frozen and its trainable parameters are each laid out in flat {@link BucketLayout.Bucket}s of at most
 * {@code allgather_bucket_size} elements (DeepSpeed's "elements all-gathered at a time"; a larger tensor gets a bucket
 * of its own), and every bucket is split into {@link Shards} of the world size like any ZeRO bucket: one all-gather
 * per bucket, and one reduce-scatter per trainable bucket. Parameters outside the blocks (embeddings, the final norm,
 * the output head, prompts) stay whole on every rank, as DeepSpeed keeps parameters it does not partition; their
 * gradients and optimizer state are sharded as at stage 2. Packed (quantized) frozen weights stay whole too.
 *
 * <p>Lifecycle: build it over the loaded model, {@link #partition} it (after a resume has written the checkpoint's
 * values into the whole arrays), train, and {@link #unpartition} it to give the model its whole trained arrays back.
 * Every method that gathers or reduces is a collective call: every rank calls it in the same order. The calls run on
 * a communication thread of this object's, so that the next block's parameters are gathered while a block computes
 * (DeepSpeed's prefetch): after block L's forward gather, block L + 1's starts; after block L's backward gather, block
 * L - 1's, queued before block L's gradient reduction.
 */
public final class ShardedBlocks implements BlockCheckpoints.Parameters, AutoCloseable {

    /**
     * One bucket of a block's frozen or trainable parameters, at {@code offset} in the block's gather buffer, with this
     * rank's shard of it and, for a trainable bucket, of its reduced gradients (null for a frozen one).
     */
    private record Part(BucketLayout.Bucket bucket, int offset, FlatBuffer shard, FlatBuffer gradientShard) {
    }

    /** One block's parameters: its frozen and its trainable parts, and how many elements each kind has. */
    private record Block(List<Part> frozen, List<Part> trainable, int frozenLength, int trainableLength) {
    }

    /** A block's parameters gathered from every rank's shards, in one of the two pairs of {@link #gatherBuffers}. */
    private record Gathered(int layer, int buffers) {
    }

    private final TimedCollective collective;
    private final Weights weights;
    private final DataType dtype;
    private final List<Block> blocks = new ArrayList<>();
    /** Every block's trainable parts, block by block: the order of {@link #trainableBuckets}. */
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
    /** Trainable block tensors that this rank's backward reached since the last {@link #zeroGradients}. */
    private final Set<String> reached = new HashSet<>();
    private boolean partitioned;

    /**
     * The partitioning of the float arrays under each of {@code layerPrefixes} ({@code model.layers.3}) in
     * {@code weights}, in buckets of at most {@code bucketSize} elements; {@code trainable} names the ones that train.
     * Nothing moves until {@link #partition}.
     */
    public ShardedBlocks(Collective collective, Weights weights, List<String> layerPrefixes, Set<String> trainable,
                         long bucketSize) {
        this.collective = new TimedCollective(collective);
        this.weights = weights;
        this.dtype = weights.asMap().entrySet().stream()
                .filter(e -> layerPrefixes.stream().anyMatch(prefix -> e.getKey().startsWith(prefix + ".")))
                .map(e -> e.getValue().getDataType()).filter(DataType::isFloating).findFirst()
                .orElse(DataType.FLOAT32);
        int largestFrozen = 0;
        int largestTrainable = 0;
        for (String prefix : layerPrefixes) {
            SortedMap<String, NDArray> frozen = new TreeMap<>();
            SortedMap<String, NDArray> trains = new TreeMap<>();
            weights.asMap().forEach((name, t) -> {
                if (name.startsWith(prefix + ".") && t.getDataType().isFloating()) {
                    if (t.getDataType() != dtype) {
                        throw new IllegalArgumentException("ZeRO-3 partitions a block's tensors in one dtype: '" + name
                                + "' is " + t.getDataType() + ", the model " + dtype);
                    }
                    (trainable.contains(name) ? trains : frozen).put(name, t);
                }
            });
            List<Part> f = parts(BucketLayout.of(frozen, bucketSize), false);
            List<Part> t = parts(BucketLayout.of(trains, bucketSize), true);
            Block block = new Block(f, t, length(f), length(t));
            largestFrozen = Math.max(largestFrozen, block.frozenLength());
            largestTrainable = Math.max(largestTrainable, block.trainableLength());
            blocks.add(block);
        }
        for (FlatBuffer[] pair : gatherBuffers) {
            pair[0] = FlatBuffer.of(dtype, largestFrozen);
            pair[1] = FlatBuffer.of(dtype, largestTrainable);
        }
        this.gradients = FlatBuffer.of(dtype, largestTrainable);
        this.trainableParts = blocks.stream().flatMap(b -> b.trainable().stream()).toList();
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

    /** The blocks' float dtype. */
    DataType dtype() {
        return dtype;
    }

    /** The names of the trainable tensors this partitioning holds, sorted. */
    public SortedSet<String> trainableNames() {
        return trainableNames;
    }

    /**
     * Keeps this rank's shard of every block tensor and takes the whole arrays out of the model, closing them: from
     * here on a block's tensors exist only while it is gathered.
     */
    public void partition() {
        if (partitioned) {
            throw new IllegalStateException("already partitioned");
        }
        for (Block b : blocks) {
            b.frozen().forEach(this::keepShard);
            b.trainable().forEach(this::keepShard);
        }
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

    /** Gives the model whole arrays of every block tensor again, gathered from the shards, owned by {@code manager}. */
    public void unpartition(NDManager manager) {
        requirePartitioned();
        dropPrefetch();
        for (int layer = 0; layer < blocks.size(); layer++) {
            Block b = blocks.get(layer);
            Gathered g = await(gatherLater(layer, 0));
            copies(b.frozen(), gatherBuffers[g.buffers()][0], manager).forEach(weights::hold);
            copies(b.trainable(), gatherBuffers[g.buffers()][1], manager).forEach(weights::hold);
        }
        partitioned = false;
    }

    /** The trainable block tensors by name and whole shape, gathered into {@code into}: a checkpoint's parameters. */
    public SortedMap<String, NDArray> trainableTensors(NDManager into) {
        requirePartitioned();
        dropPrefetch();
        SortedMap<String, NDArray> out = new TreeMap<>();
        for (int layer = 0; layer < blocks.size(); layer++) {
            Gathered g = await(gatherLater(layer, 0));
            out.putAll(copies(blocks.get(layer).trainable(), gatherBuffers[g.buffers()][1], into));
        }
        return out;
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
        Block b = blocks.get(layer);
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
        Block b = blocks.get(layer);
        return communication.submit(() -> {
            b.frozen().forEach(part -> gatherInto(part, gatherBuffers[buffers][0]));
            b.trainable().forEach(part -> gatherInto(part, gatherBuffers[buffers][1]));
            return new Gathered(layer, buffers);
        });
    }

    /** Every rank's shard of {@code part} into its place in the block's gather buffer {@code target}. */
    private void gatherInto(Part part, FlatBuffer target) {
        BucketLayout.Bucket bucket = part.bucket();
        int from = ownedFrom(bucket);
        part.shard().copyTo(0, ownedTo(bucket) - from, target, part.offset() + from);
        if (collective.worldSize() > 1 && bucket.length() > 0) {
            collective.allGather(target, part.offset(), bucket.length());
        }
    }

    /** What {@code task} returned, its failure (a {@link CollectiveException}, say) rethrown as it was. */
    private static <T> T await(Future<T> task) {
        try {
            return task.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while gathering a block's parameters", e);
        }
    }

    @Override
    public void release(int layer, boolean afterBackward) {
        if (gathered == null) {
            return;    // the gather itself failed
        }
        Block b = blocks.get(layer);
        if (afterBackward) {
            reduceGradients(b);
        }
        for (Part part : b.frozen()) {
            part.bucket().pieces().forEach(p -> weights.release(p.name()));
        }
        for (Part part : b.trainable()) {
            part.bucket().pieces().forEach(p -> weights.release(p.name()));
        }
        gathered.close();
        gathered = null;
    }

    /**
     * Reduce-scatters the gradients backward left on block {@code b}'s gathered trainable arrays (zeros where it
     * reached none), bucket by bucket, and adds this rank's shard of each to the step's gradient shard.
     */
    private void reduceGradients(Block b) {
        for (Part part : b.trainable()) {
            for (BucketLayout.Piece p : part.bucket().pieces()) {
                try (NDManager scratch = NDManager.newBaseManager()) {
                    NDArray grad = Gradients.borrow(p.name(), weights.get(p.name()), scratch);
                    if (grad != null) {
                        gradients.read(grad, part.offset() + p.offset());
                        reached.add(p.name());
                    } else {
                        gradients.clear(part.offset() + p.offset(), part.offset() + p.end());
                    }
                }
            }
        }
        if (collective.worldSize() > 1) {
            // queued behind the gather of the block below, as on every rank
            await(communication.submit(() -> b.trainable().forEach(part -> collective.reduceScatter(gradients,
                    part.offset(), part.bucket().length(), Reduction.SUM))));
        }
        for (Part part : b.trainable()) {
            int from = ownedFrom(part.bucket());
            gradients.addTo(part.offset() + from, part.offset() + ownedTo(part.bucket()), part.gradientShard(), 0);
        }
    }

    /** The trainable tensors of every block, bucket by bucket, as the optimizer lays them out. */
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
        reached.clear();
    }

    int ownedFrom(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).start(collective.rank());
    }

    int ownedTo(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).end(collective.rank());
    }

    /** Bytes of the parameter shards (frozen and trainable) this rank holds between steps. */
    public long parameterBytes() {
        return blocks.stream().flatMap(b -> Stream.concat(b.frozen().stream(), b.trainable().stream()))
                .mapToLong(part -> part.shard().bytes()).sum();
    }

    /** Bytes of the reduced-gradient shards. */
    long gradientBytes() {
        return trainableParts.stream().mapToLong(part -> part.gradientShard().bytes()).sum();
    }

    /** Stops the communication thread. */
    @Override
    public void close() {
        communication.shutdownNow();
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
            throw new IllegalStateException("the blocks are not partitioned (partition() first)");
        }
    }
}
