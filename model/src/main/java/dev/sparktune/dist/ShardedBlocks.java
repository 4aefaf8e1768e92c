package dev.sparktune.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.optim.Gradients;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

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
 * A block's frozen and trainable parameters are two flat {@link BucketLayout.Bucket}s, each split into
 * {@link Shards} of the world size like any ZeRO bucket. Parameters outside the blocks (embeddings, the final norm, the
 * output head, prompts) stay whole on every rank, as DeepSpeed keeps parameters it does not partition; their
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

    /** One block's parameters: its two buckets, this rank's shards of them and of the reduced gradients. */
    private record Block(BucketLayout.Bucket frozen, BucketLayout.Bucket trainable, FlatBuffer frozenShard,
                         FlatBuffer trainableShard, FlatBuffer gradientShard) {
    }

    /** A block's parameters gathered from every rank's shards, in one of the two {@link #gatherBuffers}. */
    private record Gathered(int layer, int buffers) {
    }

    private final TimedCollective collective;
    private final Weights weights;
    private final DataType dtype;
    private final List<Block> blocks = new ArrayList<>();
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
     * {@code weights}; {@code trainable} names the ones that train. Nothing moves until {@link #partition}.
     */
    public ShardedBlocks(Collective collective, Weights weights, List<String> layerPrefixes, Set<String> trainable) {
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
            BucketLayout.Bucket f = single(frozen);
            BucketLayout.Bucket t = single(trains);
            largestFrozen = Math.max(largestFrozen, f.length());
            largestTrainable = Math.max(largestTrainable, t.length());
            blocks.add(new Block(f, t, FlatBuffer.of(dtype, owned(f)), FlatBuffer.of(dtype, owned(t)),
                    FlatBuffer.of(dtype, owned(t))));
        }
        for (FlatBuffer[] pair : gatherBuffers) {
            pair[0] = FlatBuffer.of(dtype, largestFrozen);
            pair[1] = FlatBuffer.of(dtype, largestTrainable);
        }
        this.gradients = FlatBuffer.of(dtype, largestTrainable);
        int rank = collective.rank();
        this.communication = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "zero3-gathers-rank-" + rank);
            thread.setDaemon(true);
            return thread;
        });
    }

    /** {@code tensors} as one bucket however large, or an empty bucket for none. */
    private static BucketLayout.Bucket single(SortedMap<String, NDArray> tensors) {
        List<BucketLayout.Bucket> buckets = BucketLayout.of(tensors, Long.MAX_VALUE).buckets();
        return buckets.isEmpty() ? new BucketLayout.Bucket(List.of(), 0) : buckets.get(0);
    }

    /** The blocks' float dtype. */
    DataType dtype() {
        return dtype;
    }

    /** The names of the trainable tensors this partitioning holds. */
    public Set<String> trainableNames() {
        Set<String> names = new HashSet<>();
        blocks.forEach(b -> b.trainable().pieces().forEach(p -> names.add(p.name())));
        return names;
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
            keepShard(b.frozen(), b.frozenShard());
            keepShard(b.trainable(), b.trainableShard());
        }
        partitioned = true;
    }

    private void keepShard(BucketLayout.Bucket bucket, FlatBuffer shard) {
        int from = ownedFrom(bucket);
        int to = ownedTo(bucket);
        for (BucketLayout.Piece p : bucket.pieces()) {
            NDArray whole = weights.release(p.name());
            int a = Math.max(from, p.offset());
            int b = Math.min(to, p.end());
            if (a < b) {
                try (NDManager scratch = NDManager.newBaseManager(whole.getDevice());
                     NDArray flat = whole.reshape(-1)) {
                    shard.read(flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())), a - from);
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
            for (BucketLayout.Piece p : b.frozen().pieces()) {
                weights.hold(p.name(), gatherBuffers[g.buffers()][0].copy(manager, p.offset(), p.end(), p.shape()));
            }
            for (BucketLayout.Piece p : b.trainable().pieces()) {
                weights.hold(p.name(), gatherBuffers[g.buffers()][1].copy(manager, p.offset(), p.end(), p.shape()));
            }
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
            for (BucketLayout.Piece p : blocks.get(layer).trainable().pieces()) {
                out.put(p.name(), gatherBuffers[g.buffers()][1].copy(into, p.offset(), p.end(), p.shape()));
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
        for (BucketLayout.Piece p : b.frozen().pieces()) {
            weights.hold(p.name(), pair[0].copy(gathered, p.offset(), p.end(), p.shape()));
        }
        for (BucketLayout.Piece p : b.trainable().pieces()) {
            NDArray t = pair[1].copy(gathered, p.offset(), p.end(), p.shape());
            t.setRequiresGradient(forBackward);
            weights.hold(p.name(), t);
        }
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
            gatherInto(b.frozen(), b.frozenShard(), gatherBuffers[buffers][0]);
            gatherInto(b.trainable(), b.trainableShard(), gatherBuffers[buffers][1]);
            return new Gathered(layer, buffers);
        });
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
        for (BucketLayout.Bucket bucket : List.of(b.frozen(), b.trainable())) {
            bucket.pieces().forEach(p -> weights.release(p.name()));
        }
        gathered.close();
        gathered = null;
    }

    /**
     * Reduce-scatters the gradients backward left on block {@code b}'s gathered trainable arrays (zeros where it
     * reached none) and adds this rank's shard to the step's gradient shard.
     */
    private void reduceGradients(Block b) {
        BucketLayout.Bucket bucket = b.trainable();
        for (BucketLayout.Piece p : bucket.pieces()) {
            try (NDManager scratch = NDManager.newBaseManager()) {
                NDArray grad = Gradients.borrow(p.name(), weights.get(p.name()), scratch);
                if (grad != null) {
                    gradients.read(grad, p.offset());
                    reached.add(p.name());
                } else {
                    gradients.clear(p.offset(), p.end());
                }
            }
        }
        if (collective.worldSize() > 1) {
            // queued behind the gather of the block below, as on every rank
            await(communication.submit(() -> gradients.reduceScatter(collective, bucket.length())));
        }
        int from = ownedFrom(bucket);
        gradients.addTo(from, ownedTo(bucket), b.gradientShard(), 0);
    }

    /** Every rank's shard of {@code bucket} into {@code target}'s {@code [0, bucket length)}. */
    private void gatherInto(BucketLayout.Bucket bucket, FlatBuffer shard, FlatBuffer target) {
        int from = ownedFrom(bucket);
        shard.copyTo(0, ownedTo(bucket) - from, target, from);
        if (collective.worldSize() > 1 && bucket.length() > 0) {
            target.allGather(collective, bucket.length());
        }
    }

    /** The trainable tensors of every block, one bucket per block, as the optimizer lays them out. */
    List<BucketLayout.Bucket> trainableBuckets() {
        return blocks.stream().map(Block::trainable).toList();
    }

    /** Block {@code layer}'s shard of the trainable parameters, element 0 at the bucket's {@link #ownedFrom}. */
    FlatBuffer trainableShard(int layer) {
        return blocks.get(layer).trainableShard();
    }

    /** Block {@code layer}'s shard of the step's reduced gradients, laid out as {@link #trainableShard}. */
    FlatBuffer gradientShard(int layer) {
        return blocks.get(layer).gradientShard();
    }

    boolean reached(String name) {
        return reached.contains(name);
    }

    /** Starts the next step's gradients from zero. */
    void zeroGradients() {
        for (Block b : blocks) {
            b.gradientShard().clear(0, b.gradientShard().length());
        }
        reached.clear();
    }

    int ownedFrom(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).start(collective.rank());
    }

    int ownedTo(BucketLayout.Bucket bucket) {
        return (int) new Shards(bucket.length(), collective.worldSize()).end(collective.rank());
    }

    private int owned(BucketLayout.Bucket bucket) {
        return ownedTo(bucket) - ownedFrom(bucket);
    }

    /** Bytes of the parameter shards (frozen and trainable) this rank holds between steps. */
    public long parameterBytes() {
        return blocks.stream().mapToLong(b -> b.frozenShard().bytes() + b.trainableShard().bytes()).sum();
    }

    /** Bytes of the reduced-gradient shards. */
    long gradientBytes() {
        return blocks.stream().mapToLong(b -> b.gradientShard().bytes()).sum();
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
