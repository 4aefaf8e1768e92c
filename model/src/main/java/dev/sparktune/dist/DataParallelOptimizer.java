package dev.sparktune.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.optim.Gradients;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.optim.OptimizerState;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The update half of a data-parallel step, with DeepSpeed's ZeRO stages (Rajbhandari et al., 2020). After every rank
 * has run backward on its share of the global batch (each scaled by the global count of scored items, so gradients
 * add up to the one-rank gradient), {@link #step} combines the gradients, stops on NaN/Inf, clips by the global
 * norm and updates:
 * <ul>
 *   <li>stage 0: all-reduce the gradient buckets; every rank updates every parameter with full optimizer state;</li>
 *   <li>stage 1: reduce-scatter the buckets; rank r updates only its shard of each bucket ({@link Shards}), holding
 *       optimizer state for that shard only, then all-gathers the updated parameters;</li>
 *   <li>stage 2: as stage 1, but between backward and the update the engine keeps only its own shard of the reduced
 *       gradients (plus one bucket in flight) instead of whole buckets;</li>
 *   <li>stage 3: the parameters are partitioned too ({@link ShardedParameters}): their gradients arrive
 *       reduce-scattered, group by group during backward, and each rank updates its shard of the parameters in place,
 *       with nothing gathered after.</li>
 * </ul>
 * Optimizer state leaves and enters by parameter name and full shape ({@link #exportState}, {@link #loadState}), so a
 * checkpoint written by N ranks resumes on M. With one rank and no master weights the update is the plain
 * {@link Optimizer} over named tensors.
 *
 * <p>Gradients and parameters pass through off-heap {@link FlatBuffer}s allocated once, never through Java arrays:
 * each gradient is copied once into its bucket, the ring sends from and reduces into the bucket in place, and the
 * optimizer reads the reduced gradients through views of it; at stages 1 and 2 each updated parameter is copied
 * once into the all-gather's bucket and once back.
 *
 * <p>With mixed precision on (fp16, as apex O2 and DeepSpeed's fp16 run it), float16 parameters are trained through
 * float32 <em>master weights</em> that this engine holds: gradients are widened into float32 buckets and reduced there,
 * the optimizer (its state float32 too) updates the masters, and the updated masters are rounded into the float16
 * parameters. Each rank keeps the masters of the elements it updates: all of them at stage 0, its shards at stages 1
 * and 2, as DeepSpeed partitions them. The masters leave and enter with the optimizer state as the slot
 * {@value #MASTER}. Gradients arrive multiplied by the loss scale ({@link #step(double, double, double)}) and are
 * unscaled in float32 before the finiteness check and clipping.
 *
 * <p>libtorch keeps each parameter's whole {@code .grad} tensor whatever the stage (DJL offers no way to drop a
 * parameter's gradient); the stage-2 saving is in the engine's own buffers, which {@link #gradientBufferBytes()}
 * reports.
 */
public final class DataParallelOptimizer implements AutoCloseable {

    /** What one update did: the global gradient norm before clipping, or the tensors whose gradient was not finite. */
    public record Update(double gradNorm, List<String> nonFinite) {
        public boolean diverged() {
            return !nonFinite.isEmpty();
        }
    }

    /** The optimizer-state slot that holds the float32 master weights, {@code "<parameter>/master"}. */
    public static final String MASTER = "master";

    private final TimedCollective collective;
    private final int stage;
    private final Optimizer optimizer;
    /** The trainable tensors the model holds whole: at stage 3 those it does not partition (none that float). */
    private final SortedMap<String, NDArray> trainable;
    /** Stage 3: the partitioned parameters, whose buckets come last in {@link #layout}; else null. */
    private final ShardedParameters sharded;
    /** The index of the first of {@link #sharded}'s buckets in {@link #layout}. */
    private final int firstShardedBucket;
    private final BucketLayout layout;
    /** The buffers', the optimizer state's and the masters' dtype: float32 for float16 parameters with masters. */
    private final DataType dtype;
    /** Mixed precision: per bucket, float32 copies of the elements this rank updates; empty without. */
    private final List<FlatBuffer> masters = new ArrayList<>();
    /** Stage 0 and 1: one reduced-gradient buffer per bucket. Stage 2: one bucket in flight. */
    private final List<FlatBuffer> gradientBuffers = new ArrayList<>();
    /** Stage 2: this rank's shard of each bucket's reduced gradients. */
    private final List<FlatBuffer> ownedGradients = new ArrayList<>();
    /**
     * Stages 1 and 2: the bucket whose parameters are being all-gathered; any stage: a bucket of optimizer state
     * being exported. Allocated once, on first use (stage 2 lends its in-flight gradient bucket, free by then).
     */
    private FlatBuffer staging;

    /** An engine without master weights: the optimizer updates the parameters in their own dtype. */
    public DataParallelOptimizer(Collective collective, int zeroStage, long bucketSize, Optimizer optimizer,
                                 SortedMap<String, NDArray> trainable) {
        this(collective, zeroStage, bucketSize, optimizer, trainable, false);
    }

    /**
     * An engine that, with {@code mixedPrecision} and float16 parameters, keeps float32 master weights for them (other
     * dtypes need none, and train as without).
     */
    public DataParallelOptimizer(Collective collective, int zeroStage, long bucketSize, Optimizer optimizer,
                                 SortedMap<String, NDArray> trainable, boolean mixedPrecision) {
        this(collective, zeroStage, bucketSize, optimizer, trainable, mixedPrecision, null);
    }

    /**
     * An engine at any stage; at stage 3 {@code sharded} holds the partitioned parameters and {@code trainable} the
     * trainable tensors it left whole.
     */
    public DataParallelOptimizer(Collective collective, int zeroStage, long bucketSize, Optimizer optimizer,
                                 SortedMap<String, NDArray> trainable, boolean mixedPrecision, ShardedParameters sharded) {
        if (zeroStage < 0 || zeroStage > 3) {
            throw new IllegalArgumentException("zero_stage must be 0, 1, 2 or 3, got " + zeroStage);
        }
        if ((zeroStage == 3) != (sharded != null)) {
            throw new IllegalArgumentException("stage 3, and only stage 3, trains partitioned parameters (ShardedParameters)");
        }
        if (sharded != null && mixedPrecision) {
            throw new IllegalArgumentException("train.fp16 with dist.zero_stage 3 is not built: master weights are kept"
                    + " for whole tensors only; use zero_stage 2, or float32 without fp16");
        }
        this.collective = new TimedCollective(collective);
        this.stage = zeroStage;
        this.optimizer = optimizer;
        this.trainable = new TreeMap<>(trainable);
        this.sharded = sharded;
        BucketLayout whole = BucketLayout.of(this.trainable, bucketSize);
        this.firstShardedBucket = whole.buckets().size();
        if (sharded != null) {
            List<BucketLayout.Bucket> all = new ArrayList<>(whole.buckets());
            all.addAll(sharded.trainableBuckets());
            this.layout = new BucketLayout(List.copyOf(all));
        } else {
            this.layout = whole;
        }
        DataType modelType = !trainable.isEmpty() ? trainable.values().iterator().next().getDataType()
                : sharded != null ? sharded.dtype() : DataType.FLOAT32;
        for (NDArray t : trainable.values()) {
            if (t.getDataType() != modelType) {
                throw new IllegalArgumentException("data-parallel training needs one dtype for all trainable tensors: "
                        + modelType + " and " + t.getDataType());
            }
        }
        if (sharded != null && sharded.dtype() != modelType) {
            throw new IllegalArgumentException("data-parallel training needs one dtype for all trainable tensors: "
                    + modelType + " whole, " + sharded.dtype() + " partitioned");
        }
        boolean withMasters = mixedPrecision && modelType == DataType.FLOAT16;
        this.dtype = withMasters ? DataType.FLOAT32 : modelType;
        if (withMasters) {
            layout.buckets().forEach(b -> masters.add(FlatBuffer.of(dtype, ownedTo(b) - ownedFrom(b))));
            mastersFromParameters();
        }
        if (!local()) {
            if (stage >= 2) {
                gradientBuffers.add(FlatBuffer.of(dtype, whole.largestBucket()));
                for (BucketLayout.Bucket b : whole.buckets()) {
                    ownedGradients.add(FlatBuffer.of(dtype, (int) shards(b).size(collective.rank())));
                }
            } else {
                layout.buckets().forEach(b -> gradientBuffers.add(FlatBuffer.of(dtype, b.length())));
            }
        }
    }

    /** The bucket-sized buffer that parameters and exported state pass through, allocated on first use. */
    private FlatBuffer staging() {
        if (staging == null) {
            staging = stage == 2 ? gradientBuffers.get(0) : FlatBuffer.of(dtype, layout.largestBucket());
        }
        return staging;
    }

    public int rank() {
        return collective.rank();
    }

    public int worldSize() {
        return collective.worldSize();
    }

    /**
     * Seconds this rank has spent in collective calls so far (the gradients' reduction, the parameters' all-gather,
     * the sums over ranks, state exports), waiting for slower peers included: a step's communication, since none of
     * it overlaps computation.
     */
    public double communicationSeconds() {
        return collective.seconds() + (sharded == null ? 0 : sharded.communicationSeconds());
    }

    /** Element-wise sums over ranks of a few numbers (item counts, loss sums), the same on every rank. */
    public double[] sum(double[] values) {
        double[] out = values.clone();
        if (collective.worldSize() > 1) {
            collective.allReduce(out, 0, out.length, Reduction.SUM);
        }
        return out;
    }

    /**
     * Combines this step's gradients, checks them, clips them to {@code maxGradNorm} (0 = off) and updates the
     * parameters at {@code lr}; then zeroes the gradients. Nothing is updated when a gradient is not finite.
     */
    public Update step(double lr, double maxGradNorm) {
        return step(lr, maxGradNorm, 1.0);
    }

    /**
     * As {@link #step(double, double)}, with gradients that backward computed from the loss multiplied by
     * {@code lossScale} (a power of two, so that dividing it out is exact): they are unscaled before anything looks at
     * them, so the norm, the finiteness check and the update see the true gradients.
     */
    public Update step(double lr, double maxGradNorm, double lossScale) {
        JniUtils.setGradMode(false);   // in-place updates of leaves; a thread's autograd mode starts on
        if (local()) {
            return localStep(lr, maxGradNorm, lossScale);
        }
        Set<String> reached = reachedByAnyRank();
        List<String> bad = new ArrayList<>();
        double squares = 0;
        for (int k = 0; k < layout.buckets().size(); k++) {
            BucketLayout.Bucket bucket = layout.buckets().get(k);
            int from = ownedFrom(bucket);
            int to = ownedTo(bucket);
            if (!isSharded(k)) {
                FlatBuffer buffer = gradientBuffer(k);
                gather(bucket, buffer);
                if (collective.worldSize() > 1) {      // one rank with master weights has nothing to combine
                    if (stage == 0) {
                        buffer.allReduce(collective, bucket.length());
                    } else {
                        buffer.reduceScatter(collective, bucket.length());
                    }
                }
                if (stage >= 2) {
                    buffer.copyTo(from, to, ownedGradients.get(k), 0);
                }
            }   // a block's gradients were reduce-scattered during backward
            FlatBuffer grads = reducedGradients(k);
            int base = gradientBase(k, bucket);
            if (lossScale != 1.0) {
                grads.scale(from - base, to - base, 1 / lossScale);
            }
            squares += grads.sumOfSquares(from - base, to - base);
            for (BucketLayout.Piece p : bucket.pieces()) {
                int a = Math.max(from, p.offset());
                int b = Math.min(to, p.end());
                if (a < b && !grads.allFinite(a - base, b - base)) {
                    bad.add(p.name());
                }
            }
        }
        // stage 0: every rank holds every gradient, so the local sum of squares is already the global one
        double[] global = stage == 0 ? new double[] {squares, bad.size()} : sum(new double[] {squares, bad.size()});
        Gradients.zero(trainable);
        if (global[1] > 0 || !Double.isFinite(global[0])) {
            if (sharded != null) {
                sharded.zeroGradients();
            }
            if (bad.isEmpty()) {
                bad.add("(tensors owned by other ranks)");
            }
            return new Update(Double.NaN, bad);
        }
        double norm = Math.sqrt(global[0]);
        double coefficient = maxGradNorm / (norm + 1e-6);   // torch.nn.utils.clip_grad_norm_
        boolean clip = maxGradNorm > 0 && coefficient < 1;
        for (int k = 0; k < layout.buckets().size(); k++) {
            BucketLayout.Bucket bucket = layout.buckets().get(k);
            updateOwned(k, bucket, lr, clip ? coefficient : 1.0, reached);
        }
        if (sharded != null) {
            sharded.zeroGradients();
        }
        return new Update(norm, List.of());
    }

    /** Whether bucket {@code k} is one of the partitioned parameters' (stage 3). */
    private boolean isSharded(int k) {
        return sharded != null && k >= firstShardedBucket;
    }

    /** The buffer that holds bucket {@code k}'s reduced gradients once they are reduced. */
    private FlatBuffer reducedGradients(int k) {
        if (isSharded(k)) {
            return sharded.gradientShard(k - firstShardedBucket);
        }
        return stage >= 2 ? ownedGradients.get(k) : gradientBuffer(k);
    }

    /** The bucket element at index 0 of {@link #reducedGradients}: a shard starts at this rank's first element. */
    private int gradientBase(int k, BucketLayout.Bucket bucket) {
        return isSharded(k) || stage >= 2 ? ownedFrom(bucket) : 0;
    }

    /**
     * The tensors backward reached on at least one rank. A tensor it reached on no rank (a task head of a task that
     * had no micro-batch yet) is not updated and its optimizer state does not advance, as one rank skips a tensor
     * without a gradient (PyTorch's optimizers skip {@code grad is None}); updating it with zeros would still move it
     * by Adam's momentum and count the step, and N ranks would then differ from one. Once reached, a tensor stays
     * reached: its zeroed {@code .grad} stays defined (DJL cannot set it back to none, as PyTorch's
     * {@code zero_grad(set_to_none=True)} does), so from then on a step without its task updates it with a zero
     * gradient, on every rank count and every stage alike.
     */
    private Set<String> reachedByAnyRank() {
        List<String> names = new ArrayList<>(trainable.keySet());
        double[] flags = new double[names.size() + (sharded == null ? 0 : sharded.trainableNames().size())];
        for (int i = 0; i < names.size(); i++) {
            NDArray param = trainable.get(names.get(i));
            try (NDManager scratch = NDManager.newBaseManager(param.getDevice())) {
                flags[i] = Gradients.borrow(names.get(i), param, scratch) != null ? 1 : 0;
            }
        }
        if (sharded != null) {
            for (String name : sharded.trainableNames()) {
                flags[names.size()] = sharded.reached(name) ? 1 : 0;
                names.add(name);
            }
        }
        double[] global = sum(flags);
        Set<String> reached = new HashSet<>();
        for (int i = 0; i < names.size(); i++) {
            if (global[i] > 0) {
                reached.add(names.get(i));
            }
        }
        return reached;
    }

    private Update localStep(double lr, double maxGradNorm, double lossScale) {
        if (lossScale != 1.0) {
            Gradients.scale(trainable, 1 / lossScale);
        }
        List<String> bad = Gradients.nonFinite(trainable);
        if (!bad.isEmpty()) {
            Gradients.zero(trainable);
            return new Update(Double.NaN, bad);
        }
        double norm = Gradients.clipByGlobalNorm(trainable, maxGradNorm);
        optimizer.step(trainable, lr);
        Gradients.zero(trainable);
        return new Update(norm, List.of());
    }

    /**
     * This rank's gradients of {@code bucket}'s tensors into {@code buffer} (zeros where backward did not reach): one
     * native copy of each gradient.
     */
    private void gather(BucketLayout.Bucket bucket, FlatBuffer buffer) {
        for (BucketLayout.Piece p : bucket.pieces()) {
            NDArray param = trainable.get(p.name());
            try (NDManager scratch = NDManager.newBaseManager(param.getDevice())) {
                NDArray grad = Gradients.borrow(p.name(), param, scratch);
                if (grad != null) {
                    buffer.read(grad, p.offset());
                } else {
                    buffer.clear(p.offset(), p.end());
                }
            }
        }
    }

    /**
     * Updates the owned part of each tensor of bucket {@code k} (the whole bucket at stage 0) from the reduced
     * gradients scaled by {@code clip}; at stages 1 and 2 then all-gathers the bucket's parameters. With master
     * weights the optimizer updates the masters, which are then rounded into the parameters (at stages 1 and 2 they
     * are all-gathered in float32 and rounded on arrival).
     */
    private void updateOwned(int k, BucketLayout.Bucket bucket, double lr, double clip, Set<String> reached) {
        if (isSharded(k)) {
            updateShard(k - firstShardedBucket, bucket, lr, clip, reached);
            return;
        }
        int from = ownedFrom(bucket);
        int to = ownedTo(bucket);
        FlatBuffer grads = reducedGradients(k);
        int gradBase = gradientBase(k, bucket);
        FlatBuffer params = stage == 0 ? null : staging();
        for (BucketLayout.Piece p : bucket.pieces()) {
            int a = Math.max(from, p.offset());
            int b = Math.min(to, p.end());
            if (a >= b || !reached.contains(p.name())) {
                // another rank owns this tensor, or no rank computed a gradient for it (its slice, unchanged, still
                // goes into the all-gather below)
                if (a < b && params != null) {
                    NDArray param = trainable.get(p.name());
                    try (NDManager scratch = NDManager.newBaseManager(param.getDevice());
                         NDArray flat = param.reshape(-1)) {     // a handle in param's long-lived manager: close it
                        params.read(flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())), a);
                    }
                }
                continue;
            }
            NDArray param = trainable.get(p.name());
            try (NDManager scratch = NDManager.newBaseManager(param.getDevice())) {
                if (clip != 1.0) {
                    grads.scale(a - gradBase, b - gradBase, clip);
                }
                // the reduced gradients stay where they are: the optimizer reads them through a view
                NDArray grad = grads.view(scratch, a - gradBase, b - gradBase, new Shape(b - a));
                NDArray owned;
                boolean whole = a == p.offset() && b == p.end();
                if (!masters.isEmpty()) {
                    // the master elements, updated in place through a view
                    owned = masters.get(k).view(scratch, a - from, b - from, whole ? param.getShape() : new Shape(b - a));
                    if (whole) {
                        grad = grad.reshape(param.getShape());
                    }
                } else if (whole) {
                    owned = param;                   // updated in place
                    owned.tempAttach(scratch);
                    grad = grad.reshape(param.getShape());
                } else {
                    // a copy of this rank's slice; the all-gather below writes it back into every replica
                    try (NDArray flat = param.reshape(-1)) {
                        owned = flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())).duplicate();
                    }
                }
                optimizer.update(p.name(), owned, grad, lr, scratch);
                if (params != null) {
                    params.read(owned, a);
                } else if (!masters.isEmpty()) {
                    param.set(new NDIndex("..."), owned.toType(param.getDataType(), false));   // stage 0: whole
                }
            }
        }
        if (params != null) {
            if (collective.worldSize() > 1) {
                params.allGather(collective, bucket.length());
            }
            for (BucketLayout.Piece p : bucket.pieces()) {
                NDArray param = trainable.get(p.name());
                try (NDManager scratch = NDManager.newBaseManager(param.getDevice())) {
                    params.writeInto(param, p.offset(), scratch);
                }
            }
        }
    }

    /**
     * Updates this rank's shard of partitioned bucket {@code k}'s trainable parameters in place from its shard of the
     * reduced gradients scaled by {@code clip}. Nothing is gathered: the next forward gathers the parameters again.
     */
    private void updateShard(int k, BucketLayout.Bucket bucket, double lr, double clip, Set<String> reached) {
        int from = ownedFrom(bucket);
        int to = ownedTo(bucket);
        FlatBuffer grads = sharded.gradientShard(k);
        FlatBuffer params = sharded.trainableShard(k);
        for (BucketLayout.Piece p : bucket.pieces()) {
            int a = Math.max(from, p.offset());
            int b = Math.min(to, p.end());
            if (a >= b || !reached.contains(p.name())) {
                continue;
            }
            try (NDManager scratch = NDManager.newBaseManager()) {
                if (clip != 1.0) {
                    grads.scale(a - from, b - from, clip);
                }
                Shape shape = a == p.offset() && b == p.end() ? p.shape() : new Shape(b - a);
                NDArray grad = grads.view(scratch, a - from, b - from, shape);
                NDArray owned = params.view(scratch, a - from, b - from, shape);
                optimizer.update(p.name(), owned, grad, lr, scratch);
            }
        }
    }

    /**
     * The optimizer state by parameter name and full shape, {@code "<parameter>/<slot>"} and
     * {@code "<parameter>/step"} as {@link OptimizerState#export} writes it. Every rank must call it (stages 1 and 2
     * gather the shards); every rank gets the whole state, with mixed precision the masters too, as
     * {@code "<parameter>/master"}. With one rank and no masters the slot tensors are the live state (write them before
     * the next step), otherwise they are created in {@code into}.
     */
    public SortedMap<String, NDArray> exportState(NDManager into) {
        if (local()) {
            return optimizer.state().export(into);
        }
        OptimizerState state = optimizer.state();
        List<String> slots = optimizer.rule().slots();
        List<BucketLayout.Piece> pieces = layout.buckets().stream().flatMap(b -> b.pieces().stream()).toList();
        // each parameter's step count comes from the rank that owns its first element
        double[] steps = new double[pieces.size()];
        int i = 0;
        for (BucketLayout.Bucket bucket : layout.buckets()) {
            for (BucketLayout.Piece p : bucket.pieces()) {
                boolean ownsFirst = p.length() > 0 && p.offset() >= ownedFrom(bucket) && p.offset() < ownedTo(bucket);
                steps[i++] = stage == 0 || ownsFirst ? state.step(p.name()) : 0;
            }
        }
        if (stage != 0) {
            steps = sum(steps);
        }
        SortedMap<String, NDArray> out = new TreeMap<>();
        for (String slot : slots) {
            for (BucketLayout.Bucket bucket : layout.buckets()) {
                FlatBuffer buffer = staging();
                buffer.clear(0, bucket.length());
                for (BucketLayout.Piece p : bucket.pieces()) {
                    NDArray values = state.slots(p.name()).get(slot);
                    int a = Math.max(ownedFrom(bucket), p.offset());
                    if (values != null && a < Math.min(ownedTo(bucket), p.end())) {
                        buffer.read(values, a);
                    }
                }
                gatherShards(buffer, bucket);
                for (BucketLayout.Piece p : bucket.pieces()) {
                    out.put(p.name() + "/" + slot, buffer.copy(into, p.offset(), p.end(), p.shape()));
                }
            }
        }
        for (int k = 0; k < masters.size(); k++) {
            BucketLayout.Bucket bucket = layout.buckets().get(k);
            FlatBuffer buffer = staging();
            masters.get(k).copyTo(0, ownedTo(bucket) - ownedFrom(bucket), buffer, ownedFrom(bucket));
            gatherShards(buffer, bucket);
            for (BucketLayout.Piece p : bucket.pieces()) {
                out.put(p.name() + "/" + MASTER, buffer.copy(into, p.offset(), p.end(), p.shape()));
            }
        }
        i = 0;
        for (BucketLayout.Piece p : pieces) {
            long step = Math.round(steps[i++]);
            if (step == 0) {
                slots.forEach(slot -> out.remove(p.name() + "/" + slot).close());
            } else {
                out.put(p.name() + "/" + OptimizerState.STEP, into.create(step));
            }
        }
        return out;
    }

    /** At stages 1 and 2 on several ranks, every rank's shard of {@code bucket} into every rank's {@code buffer}. */
    private void gatherShards(FlatBuffer buffer, BucketLayout.Bucket bucket) {
        if (stage != 0 && collective.worldSize() > 1) {
            buffer.allGather(collective, bucket.length());
        }
    }

    /**
     * Takes this rank's part of a state {@link #exportState} (of any world size) wrote. With mixed precision the
     * masters come from its {@code "<parameter>/master"} tensors, or, where it has none (a checkpoint written without
     * fp16, or before it was built), from the parameters as they are now: load them first. Without mixed precision
     * saved masters are ignored.
     */
    public void loadState(Map<String, NDArray> saved) {
        Map<String, NDArray> exported = new TreeMap<>();
        saved.forEach((key, value) -> {
            if (!key.endsWith("/" + MASTER)) {
                // a float16 run's state (pure float16, without masters) continues in the masters' float32
                exported.put(key, masters.isEmpty() || value.getDataType() != DataType.FLOAT16 ? value
                        : value.toType(dtype, false));
            }
        });
        if (!masters.isEmpty()) {
            loadMasters(saved);
        }
        if (local() || stage == 0) {
            optimizer.state().load(exported);
            return;
        }
        try (NDManager scratch = NDManager.newBaseManager()) {
            SortedMap<String, NDArray> mine = new TreeMap<>();
            for (BucketLayout.Bucket bucket : layout.buckets()) {
                for (BucketLayout.Piece p : bucket.pieces()) {
                    int a = Math.max(ownedFrom(bucket), p.offset());
                    int b = Math.min(ownedTo(bucket), p.end());
                    NDArray step = exported.get(p.name() + "/" + OptimizerState.STEP);
                    if (a >= b || step == null) {
                        continue;
                    }
                    mine.put(p.name() + "/" + OptimizerState.STEP, step);
                    for (String slot : optimizer.rule().slots()) {
                        NDArray full = exported.get(p.name() + "/" + slot);
                        if (full == null) {
                            throw new IllegalArgumentException("optimizer state has no '" + p.name() + "/" + slot + "'");
                        }
                        NDArray flat = full.reshape(-1);
                        mine.put(p.name() + "/" + slot, a == p.offset() && b == p.end()
                                ? full.duplicate()
                                : flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())).duplicate());
                    }
                }
            }
            mine.values().forEach(v -> v.attach(scratch));
            optimizer.state().load(mine);
        }
    }

    /** This rank's masters from {@code saved}'s {@code "<parameter>/master"} tensors, else from the parameters. */
    private void loadMasters(Map<String, NDArray> saved) {
        for (int k = 0; k < masters.size(); k++) {
            BucketLayout.Bucket bucket = layout.buckets().get(k);
            int from = ownedFrom(bucket);
            for (BucketLayout.Piece p : bucket.pieces()) {
                int a = Math.max(from, p.offset());
                int b = Math.min(ownedTo(bucket), p.end());
                if (a >= b) {
                    continue;
                }
                NDArray source = saved.getOrDefault(p.name() + "/" + MASTER, trainable.get(p.name()));
                try (NDManager scratch = NDManager.newBaseManager(source.getDevice());
                     NDArray flat = source.reshape(-1)) {     // a handle in source's long-lived manager: close it
                    masters.get(k).read(flat.get(scratch, new NDIndex("{}:{}", a - p.offset(), b - p.offset())), a - from);
                }
            }
        }
    }

    private void mastersFromParameters() {
        loadMasters(Map.of());
    }

    /** Bytes of optimizer state this rank holds, its master weights included. */
    public long optimizerStateBytes() {
        return optimizer.state().bytes() + masters.stream().mapToLong(FlatBuffer::bytes).sum();
    }

    /** Bytes of gradient buffers this engine holds between backward and the update. */
    public long gradientBufferBytes() {
        return gradientBuffers.stream().mapToLong(FlatBuffer::bytes).sum()
                + ownedGradients.stream().mapToLong(FlatBuffer::bytes).sum()
                + (sharded == null ? 0 : sharded.gradientBytes());
    }

    /** Elements of all trainable tensors together. */
    public long trainableElements() {
        return layout.elements();
    }

    /** Elements of the largest bucket. */
    public long bucketElements() {
        return layout.largestBucket();
    }

    /** One rank without master weights: the plain optimizer over the named tensors, no buffers. */
    private boolean local() {
        return collective.worldSize() == 1 && masters.isEmpty() && sharded == null;
    }

    private FlatBuffer gradientBuffer(int k) {
        return stage >= 2 ? gradientBuffers.get(0) : gradientBuffers.get(k);
    }

    private Shards shards(BucketLayout.Bucket bucket) {
        return new Shards(bucket.length(), collective.worldSize());
    }

    private int ownedFrom(BucketLayout.Bucket bucket) {
        return stage == 0 ? 0 : (int) shards(bucket).start(collective.rank());
    }

    private int ownedTo(BucketLayout.Bucket bucket) {
        return stage == 0 ? bucket.length() : (int) shards(bucket).end(collective.rank());
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
