package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.DistConfig;
import dev.sparktune.config.EvalConfig;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.CollectiveException;
import dev.sparktune.dist.DataParallelOptimizer;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.dist.ShardedParameters;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.Casts;
import dev.sparktune.nn.Scalars;
import dev.sparktune.nn.SeededDropout;
import dev.sparktune.nn.ThreadGradients;
import dev.sparktune.optim.LossScaler;
import dev.sparktune.optim.LrSchedule;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.peft.PeftModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's training loop. {@link #train} reads as the algorithm:
 * <pre>
 *   resume from the checkpoint, if any
 *   for each epoch, for each optimizer step of gradient_accumulation_steps micro-batches:
 *       forward and backward each micro-batch, weighted by its share of the step's scored items
 *       sum the loss normalisers and gradients over the ranks; stop on NaN/Inf; clip; update
 *       validate if due (eval_steps, or each epoch's end); early stopping watches the validation loss
 *       log if due (logging_steps, a validated step, the last step)
 *       save if due (save_steps, the last step, a preemption point, an early stop)
 * </pre>
 * Every step runs in its own NDManager.
 *
 * <p>With {@code train.fp16} the model computes in float16 (its dtype is the caller's choice) while the update engine
 * keeps float32 master weights ({@link DataParallelOptimizer}), and the loss is scaled dynamically ({@link LossScaler}).
 * A step whose gradients overflow on any rank is skipped as Hugging Face's Trainer skips it under
 * {@code torch.amp.GradScaler}: the parameters and the optimizer state stay as they were, the step still counts
 * ({@code global_step} advances, so {@code max_steps} and {@code save_steps} count it), but the learning-rate schedule
 * does not advance ({@code lr_scheduler.step()} runs only when the optimizer stepped). Without fp16 a non-finite
 * gradient ends the run with {@link TrainingDivergedException}.
 *
 * <p>A run trains one or several tasks ({@link TrainingTask}): a {@link TaskMix} picks the task of each micro-batch,
 * each task's loss is the token- (or row-) weighted mean over its micro-batches of the step, and the step's loss weighs
 * the tasks by their share of the step's micro-batches; with one task this is exactly the single-task rule. Metrics
 * then report each task's loss, and every metrics line counts the rows each task has trained on so far.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private final PeftModel model;
    private final TrainConfig config;
    private final long padTokenId;
    private final Collective collective;
    private final int zeroStage;
    private final long bucketSize;
    /** At ZeRO stage 3, the elements of partitioned parameters all-gathered at a time. */
    private final long allgatherBucketSize;
    /** How long the other ranks wait for rank 0 to write a checkpoint. */
    private final Duration checkpointTimeout;
    /** Null without validation. */
    private final Validation validation;
    private final StepListener listener;

    /** A trainer on one rank, without validation. */
    public Trainer(PeftModel model, TrainConfig config, long padTokenId) {
        this(model, config, padTokenId, InProcessCollective.group(1).get(0), 0, Long.MAX_VALUE,
                DistConfig.DEFAULT_ALLGATHER_BUCKET_SIZE, Duration.ofHours(1), null, StepListener.NONE);
    }

    private Trainer(PeftModel model, TrainConfig config, long padTokenId, Collective collective, int zeroStage,
                    long bucketSize, long allgatherBucketSize, Duration checkpointTimeout, Validation validation,
                    StepListener listener) {
        this.model = model;
        this.config = config;
        this.padTokenId = padTokenId;
        this.collective = collective;
        this.zeroStage = zeroStage;
        this.bucketSize = bucketSize;
        this.allgatherBucketSize = allgatherBucketSize;
        this.checkpointTimeout = checkpointTimeout;
        this.validation = validation;
        this.listener = listener;
    }

    /**
     * The same trainer as one rank of a data-parallel run over {@code collective}. Each rank reads only its share of
     * each task's Parquet row groups ({@link TrainingData#shards}: whole groups, balanced by rows, a different share
     * every epoch) and builds micro-batches of {@code per_device_train_batch_size} rows from it; every rank takes as
     * many micro-batches per epoch as the smallest share holds, so the ranks agree on the task plan and the steps
     * without talking, and drop their surplus rows of the epoch. Gradients are combined with ZeRO stage
     * {@code zero_stage} in buckets of {@code reduce_bucket_size} elements, and rank 0 alone writes checkpoints and
     * metrics; the other ranks wait for each save up to {@code checkpoint_timeout_seconds}. N ranks then train as one
     * rank whose micro-batches of N x per_device_train_batch_size rows hold the ranks' micro-batches side by side.
     * Validation is shared too: each rank evaluates every {@code world_size}-th validation row
     * ({@link Validation}) and the sums are all-reduced.
     *
     * <p>A resume continues exactly when the checkpoint was written by as many ranks. With another world size the
     * shares, and so the rest of the interrupted epoch, are not the same: the run then continues from the start of
     * the next epoch, skipping what the interrupted epoch had left (with a warning), at the step count and with the
     * parameters and optimizer state of the checkpoint. The learning-rate schedule spans the new world size's steps.
     */
    public Trainer withDataParallel(Collective collective, DistConfig dist) {
        return new Trainer(model, config, padTokenId, collective, dist.zeroStage(), dist.reduceBucketSize(),
                dist.allgatherBucketSize(), Duration.ofSeconds(dist.checkpointTimeoutSeconds()), validation, listener);
    }

    /**
     * The same trainer, validating on {@code tasks} as {@code eval} says ({@link Validation}): every
     * {@code eval_steps} steps, or with 0 at the end of each epoch and of the run; with {@code early_stopping_patience}
     * it stops after that many validations without a new best mean loss.
     */
    public Trainer withValidation(List<TrainingTask> tasks, EvalConfig eval) {
        return withValidation(tasks, eval, null);
    }

    /**
     * The same trainer, validating as {@link #withValidation(List, EvalConfig)} does and also completing the SFT
     * tasks' prompts with {@code completions} for the generation metrics of {@code eval.metrics} (bleu, chrf, rouge,
     * exact_match).
     */
    public Trainer withValidation(List<TrainingTask> tasks, EvalConfig eval, Completions completions) {
        return new Trainer(model, config, padTokenId, collective, zeroStage, bucketSize, allgatherBucketSize,
                checkpointTimeout, new Validation(tasks, eval, config.seed(), padTokenId, completions), listener);
    }

    /** The same trainer, telling {@code listener} about every step this rank finishes. */
    public Trainer withStepListener(StepListener listener) {
        return new Trainer(model, config, padTokenId, collective, zeroStage, bucketSize, allgatherBucketSize,
                checkpointTimeout, validation, listener);
    }

    /**
     * What to train and where to write it.
     *
     * @param tasks      the tasks, with distinct names
     * @param mix        how their micro-batches are mixed; an epoch is one pass of its plan
     * @param output     checkpoints and {@code metrics.jsonl}, on any Hadoop file system
     * @param resumeFrom a checkpoint folder's location (read with the output folder's configuration) to continue
     * @param stopAfter  a step after which to stop with a checkpoint, as a preempted job would: the schedule still spans
     *                   the whole run, so a resume continues it unchanged
     * @param fence      rank 0's claim on {@code output}'s checkpoints, made before the starting point was picked (a
     *                   Spark stage attempt's); null: rank 0 claims the folder when the run starts, as attempt 0
     */
    public record Run(List<TrainingTask> tasks, TaskMix mix, OutputFolder output, Optional<String> resumeFrom,
                      OptionalLong stopAfter, CheckpointFence fence) {
        public Run {
            tasks = List.copyOf(tasks);
            if (tasks.isEmpty()) {
                throw new IllegalArgumentException("a run needs at least one task");
            }
            if (new HashSet<>(tasks.stream().map(TrainingTask::name).toList()).size() != tasks.size()) {
                throw new IllegalArgumentException("tasks need distinct names, got "
                        + tasks.stream().map(TrainingTask::name).toList());
            }
        }

        /** A run to its end: {@code max_steps}, or {@code num_train_epochs}, or an early stop. */
        public Run(List<TrainingTask> tasks, TaskMix mix, OutputFolder output, Optional<String> resumeFrom) {
            this(tasks, mix, output, resumeFrom, OptionalLong.empty(), null);
        }

        /** The same run, stopping after step {@code step} with a checkpoint. */
        public Run stoppingAfter(long step) {
            return new Run(tasks, mix, output, resumeFrom, OptionalLong.of(step), fence);
        }

        /** The same run, its checkpoints written under {@code claim} (used on rank 0 only). */
        public Run fencedBy(CheckpointFence claim) {
            return new Run(tasks, mix, output, resumeFrom, stopAfter, claim);
        }
    }

    /**
     * How a run ended: the steps taken, the last training loss, the final checkpoint's location, the best
     * validation loss (NaN without validation) and whether early stopping ended it.
     */
    public record Result(long steps, double lastLoss, String checkpoint, double bestValidationLoss, boolean stoppedEarly) {
    }

    /** Trains {@code run} until {@code max_steps}, {@code num_train_epochs}, an early stop or its stop-after step. */
    public Result train(Run run, NDManager manager) {
        model.requireGradients();
        JniUtils.setGradMode(false);   // a new thread (a Spark task's) starts with autograd on; updates are in place
        ShardedParameters sharded = zeroStage == 3 ? new ShardedParameters(collective, model.weights(),
                model.base().layout(), model.trainable(), allgatherBucketSize) : null;
        SortedMap<String, NDArray> whole = model.trainableTensors();
        if (sharded != null) {
            whole.keySet().removeAll(sharded.trainableNames());
        }
        try (DataParallelOptimizer optimizer = new DataParallelOptimizer(collective, zeroStage, bucketSize,
                Optimizer.from(config, manager), whole, config.fp16(), sharded)) {
            Loop loop = new Loop(run, optimizer, manager, sharded);
            if (run.resumeFrom().isPresent()) {
                loop.resume(run.resumeFrom().get());   // into the whole tensors, before they are partitioned
            }
            if (sharded == null) {
                return loop.run();
            }
            sharded.partition();
            Result result = loop.run();
            sharded.unpartition(manager);   // the caller exports or evaluates the trained model
            return result;
        } finally {
            if (sharded != null) {
                sharded.close();
            }
        }
    }

    /** One call of {@link #train}: what the loop keeps from step to step, and its named parts. */
    private final class Loop {
        private final Run run;
        private final DataParallelOptimizer optimizer;
        private final NDManager manager;
        /** At ZeRO stage 3, the model's partitioned parameters; else null. */
        private final ShardedParameters sharded;
        private final int batchSize = config.perDeviceTrainBatchSize();   // this rank's, from its share of the rows
        private final int accumulation = config.gradientAccumulationSteps();
        private final boolean writer = collective.rank() == 0;
        private final long totalSteps;
        private final LrSchedule schedule;
        private final TrainingCheckpoints checkpoints;
        /**
         * With train.gradient_checkpointing, or at ZeRO stage 3 (whose blocks' parameters exist only while the block
         * runs, so its backward runs block by block too), the blocks' kept inputs of the micro-batch in flight; else
         * null.
         */
        private final BlockCheckpoints blocks;
        // built once: the same tensors every step
        private final PretrainedModel training;
        private final PretrainedModel evaluating;
        /** With train.fp16, the dynamic loss scale; else null. */
        private final LossScaler scaler = config.fp16()
                ? new LossScaler(config.fp16InitialScalePower(), LossScaler.GROWTH_INTERVAL) : null;
        private final long started = System.nanoTime();
        private final Throughput throughput = new Throughput(20, started);
        private long step;
        private int epoch;
        private long position;
        /** Rows each task has trained on, over all ranks. */
        private final long[] rows;
        private EarlyStopping stopping = new EarlyStopping(config.earlyStoppingPatience());
        private String lastCheckpoint;
        private double lastLoss = Double.NaN;
        /** Seconds this rank spent in the steps' collective calls since the run (or the resumed run) started. */
        private double communicationSeconds;

        Loop(Run run, DataParallelOptimizer optimizer, NDManager manager, ShardedParameters sharded) {
            this.run = run;
            this.optimizer = optimizer;
            this.manager = manager;
            this.sharded = sharded;
            this.blocks = sharded != null ? new BlockCheckpoints(sharded)
                    : config.gradientCheckpointing() ? new BlockCheckpoints() : null;
            this.training = blocks == null ? model.model(true) : model.model(true).withBlocks(blocks);
            // evaluation runs the blocks plainly, but at stage 3 still gathers their parameters and the others
            this.evaluating = sharded == null ? model.model(false) : model.model(false).withBlocks(blocks);
            this.rows = new long[run.tasks().size()];
            long stepsPerEpoch = epochBatches(0).length() / accumulation;
            if (stepsPerEpoch == 0) {
                throw new IllegalArgumentException("an epoch has fewer micro-batches of " + batchSize + " rows"
                        + (collective.worldSize() > 1 ? " per rank on " + collective.worldSize() + " ranks" : "")
                        + " than one optimizer step needs (" + accumulation + ")");
            }
            totalSteps = config.maxSteps() > 0 ? config.maxSteps() : (long) Math.ceil(config.numTrainEpochs() * stepsPerEpoch);
            schedule = LrSchedule.from(config, totalSteps);
            TrainingCheckpoints folder = new TrainingCheckpoints(run.output().conf(), run.output().location(),
                    config.saveTotalLimit());
            // rank 0 claims the folder before it loads anything from it: older writers' commits and removals stop here
            checkpoints = !writer ? folder : folder.writingAs(run.fence() != null ? run.fence()
                    : CheckpointFence.claim(run.output(), 0));
        }

        Result run() {
            if (stopping.stopped()) {
                // the saved run had stopped early: a retried stage or a rerun must not train on past that decision
                LOG.info("step {}: the run resumed from {} had stopped early; nothing left to train", step, lastCheckpoint);
                return new Result(step, Double.NaN, lastCheckpoint, stopping.best(), true);
            }
            try (MetricsLog metrics = openMetrics()) {
                while (step < totalSteps) {
                    MicroBatches batches = epochBatches(epoch);
                    batches.skip(position);
                    List<MicroBatches.MicroBatch> micro;
                    while (step < totalSteps && (micro = take(batches)) != null) {
                        // steps skipped for gradient overflow do not advance the schedule, as in Hugging Face's Trainer
                        long scheduled = step - (scaler == null ? 0 : scaler.skippedSteps());
                        double lr = schedule.learningRate(config.learningRate(), scheduled);
                        StepOutcome outcome = trainStep(micro, lr);
                        advance(micro, batches.position(), outcome);
                        SortedMap<String, Double> validated = validateIfDue(batches);
                        boolean stop = stopsEarly(validated);
                        StepMetrics stepMetrics = metrics(outcome, lr, validated);
                        logIfDue(metrics, stepMetrics);
                        saveIfDue(stop);
                        listener.afterStep(new StepListener.StepProgress(collective.rank(), totalSteps, stepMetrics,
                                throughput.eta(totalSteps - step)));
                        if (stop || run.stopAfter().equals(OptionalLong.of(step))) {
                            return new Result(step, lastLoss, lastCheckpoint, stopping.best(), stop);
                        }
                    }
                    if (step < totalSteps) {
                        epoch++;     // the epoch's remainder is too small for a whole step
                        position = 0;
                    }
                }
            }
            return new Result(step, lastLoss, lastCheckpoint, stopping.best(), false);
        }

        /** This rank's micro-batches of {@code epoch}. */
        private MicroBatches epochBatches(int epoch) {
            return new MicroBatches(run.tasks(), run.mix(), config.seed(), epoch, batchSize, config.groupByLength(),
                    collective.rank(), collective.worldSize());
        }

        /** The next {@code accumulation} micro-batches, or null when fewer remain in the epoch. */
        private List<MicroBatches.MicroBatch> take(MicroBatches batches) {
            List<MicroBatches.MicroBatch> micro = new ArrayList<>();
            while (micro.size() < accumulation && batches.hasNext()) {
                micro.add(batches.next());
            }
            return micro.size() == accumulation ? micro : null;
        }

        /** Counts the step, its place in the epoch and its rows: every rank drew the same tasks, each a micro-batch. */
        private void advance(List<MicroBatches.MicroBatch> micro, long positionInEpoch, StepOutcome outcome) {
            step++;
            position = positionInEpoch;
            lastLoss = outcome.loss();
            for (MicroBatches.MicroBatch m : micro) {
                rows[m.task()] += (long) batchSize * collective.worldSize();
            }
            throughput.step(outcome.tokens(), System.nanoTime());
        }

        /** The validation metrics when validation is due after this step (on every rank alike), else none. */
        private SortedMap<String, Double> validateIfDue(MicroBatches batches) {
            boolean epochEnded = batches.length() - batches.position() < accumulation;
            if (validation == null || !validation.dueAfter(step, epochEnded, totalSteps)) {
                return Collections.emptySortedMap();
            }
            try {
                return validation.evaluate(evaluating, collective, manager);
            } finally {
                if (sharded != null) {
                    blocks.endEvaluation();   // the parameters outside the blocks that evaluation kept gathered
                }
            }
        }

        /**
         * Whether early stopping ends the run after {@code validated}. The metrics were all-reduced, so every rank
         * holds the same bits and decides alike.
         */
        private boolean stopsEarly(SortedMap<String, Double> validated) {
            if (validated.isEmpty()) {
                return false;
            }
            double loss = validated.get(Validation.LOSS);
            boolean stop = stopping.observe(loss);
            if (writer) {
                LOG.info("step {}: {} (best {}){}", step, ProgressLine.validation(validated), stopping.best(),
                        stop ? "; early stopping" : "");
            }
            return stop;
        }

        private StepMetrics metrics(StepOutcome outcome, double lr, SortedMap<String, Double> validated) {
            return new StepMetrics(step, outcome.loss(), run.tasks().size() > 1 ? outcome.taskLosses() : Map.of(), lr,
                    outcome.gradNorm(), throughput.tokensPerSecond(), (System.nanoTime() - started) / 1e9,
                    communicationSeconds, rowsByTask(), validated);
        }

        private SortedMap<String, Long> rowsByTask() {
            SortedMap<String, Long> byName = new TreeMap<>();
            for (int t = 0; t < rows.length; t++) {
                byName.put(run.tasks().get(t).name(), rows[t]);
            }
            return byName;
        }

        /** Rank 0 writes a metrics line every {@code logging_steps} steps, after a validation and at the last step. */
        private void logIfDue(MetricsLog metrics, StepMetrics m) {
            if (writer && (step % config.loggingSteps() == 0 || step == totalSteps || m.validated())) {
                metrics.write(m);
                LOG.info(ProgressLine.format(step, totalSteps, m.loss(), m.learningRate(), m.tokensPerSecond(),
                        throughput.eta(totalSteps - step)));
            }
        }

        /** A checkpoint every {@code save_steps} steps, at the last step, at the stop-after step and on an early stop. */
        private void saveIfDue(boolean stoppingEarly) {
            if (step % config.saveSteps() == 0 || step == totalSteps || run.stopAfter().equals(OptionalLong.of(step))
                    || stoppingEarly) {
                lastCheckpoint = save();
            }
        }

        /** Rank 0's metrics file, continued from the checkpoint on a resume; none on the other ranks. */
        private MetricsLog openMetrics() {
            if (!writer) {
                return null;
            }
            String file = run.output().resolve(MetricsLog.FILE);
            return run.resumeFrom().isPresent() ? MetricsLog.resume(run.output().conf(), file, step)
                    : MetricsLog.create(run.output().conf(), file);
        }

        /** Forward, backward, sum over ranks and update: one optimizer step of {@code micro}'s micro-batches. */
        private StepOutcome trainStep(List<MicroBatches.MicroBatch> micro, double lr) {
            List<TrainingTask> tasks = run.tasks();
            double communicationBefore = optimizer.communicationSeconds();
            try (NDManager stepManager = manager.newSubManager()) {
                int n = tasks.size();
                List<TrainingBatch> batches = new ArrayList<>();
                double[] localItems = new double[n];
                int[] count = new int[n];
                for (MicroBatches.MicroBatch m : micro) {
                    TrainingBatch batch = TrainingBatch.of(m.rows(), padTokenId, stepManager);
                    batches.add(batch);
                    localItems[m.task()] += tasks.get(m.task()).objective().scoredItems(batch);
                    count[m.task()]++;
                }
                double[] items = optimizer.sum(localItems);    // each rank scales by the global counts
                double[] lossSums = new double[n + 1];         // per task, then tokens
                double lossScale = scaler == null ? 1 : scaler.scale();
                // ranks sharing a JVM compute at the same time: the collector and the dropout seeds are this thread's
                try (GradientCollector collector = new ThreadGradients()) {
                    for (int i = 0; i < batches.size(); i++) {
                        int task = micro.get(i).task();
                        // dropout masks depend on the step (and rank) alone, so a resumed run draws the same ones
                        SeededDropout.seed(config.seed() * 1_000_003 + step * batches.size() + i
                                + collective.rank() * 7_919L);
                        Objective.Loss l = tasks.get(task).objective().loss(training, batches.get(i), stepManager);
                        // d(loss)/d(sum) for loss = sum over tasks of (count/M) * (task's summed loss / task's items)
                        double divisor = (double) micro.size() * Math.max(items[task], 1) / count[task];
                        lossSums[task] += l.sum().toType(DataType.FLOAT64, false).getDouble();
                        lossSums[n] += batches.get(i).tokens();
                        // scaled in float32 at least: a float16 loss times 2^16 would overflow before backward began
                        NDArray sum = l.sum().getDataType() == DataType.FLOAT16 ? Casts.to(l.sum(), DataType.FLOAT32) : l.sum();
                        collector.backward(Scalars.dividedBy(sum, divisor / lossScale));
                        if (blocks != null) {
                            blocks.backward();   // frees the micro-batch's forward, its loss included
                        }
                    }
                } finally {
                    SeededDropout.clear();
                }
                lossSums = optimizer.sum(lossSums);
                long tokens = (long) lossSums[n];
                double loss = 0;
                Map<String, Double> taskLosses = new TreeMap<>();
                for (int t = 0; t < n; t++) {
                    if (count[t] > 0) {
                        double mean = lossSums[t] / Math.max(items[t], 1);
                        taskLosses.put(tasks.get(t).name(), mean);
                        loss += mean * count[t] / micro.size();
                    }
                }
                // with fp16 an overflow shows in the gradients (a non-finite loss makes them non-finite too)
                DataParallelOptimizer.Update update = Double.isFinite(loss) || scaler != null
                        ? optimizer.step(lr, config.maxGradNorm(), lossScale) : null;
                if (scaler != null) {
                    scaler.update(update.diverged());
                    if (update.diverged() && writer) {
                        LOG.info("step {}: gradients overflowed at loss scale {}; step skipped, the scale is now {}",
                                step + 1, lossScale, scaler.scale());
                    }
                } else if (update == null || update.diverged()) {
                    throw new TrainingDivergedException("step " + (step + 1) + ": " + (update == null
                            ? "the loss is " + loss : "non-finite gradients in " + update.nonFinite())
                            + "; the last good checkpoint is "
                            + (lastCheckpoint == null ? "none (nothing was saved yet)" : lastCheckpoint));
                }
                communicationSeconds += optimizer.communicationSeconds() - communicationBefore;
                return new StepOutcome(loss, taskLosses, update.gradNorm(), tokens);
            }
        }

        /**
         * Every rank gathers the optimizer state (a collective); rank 0 alone writes the checkpoint while the others
         * wait for it at a barrier bounded by {@code checkpoint_timeout_seconds}, not by the collective timeout: a save
         * may take far longer than any collective.
         */
        private String save() {
            String folder = checkpoints.folder(step);
            try (NDManager scratch = NDManager.newBaseManager()) {
                SortedMap<String, NDArray> optimizerState = optimizer.exportState(scratch);
                // the trainable arrays the model holds, or at stage 3 the partitioned ones, gathered
                SortedMap<String, NDArray> parameters = new TreeMap<>(model.weights().asMap());
                parameters.keySet().retainAll(model.trainable());
                if (sharded != null) {
                    parameters.putAll(sharded.trainableTensors(scratch));   // gathered on every rank, by name
                }
                if (writer) {
                    OptionalDouble best = Double.isNaN(stopping.best()) ? OptionalDouble.empty()
                            : OptionalDouble.of(stopping.best());
                    Map<String, String> metadata = new TreeMap<>(Map.of("method", model.method().toString(), "world_size",
                            Integer.toString(collective.worldSize()), "zero_stage", Integer.toString(zeroStage)));
                    if (scaler != null) {
                        metadata.putAll(scaler.state());
                    }
                    TrainerState state = new TrainerState(step, epoch, position, step, best, stopping.sinceBest(),
                            rowsByTask(), metadata);
                    folder = checkpoints.save(state, parameters, optimizerState);
                }
            }
            try {
                collective.barrier(checkpointTimeout);
            } catch (CollectiveException e) {
                throw new CollectiveException("rank " + collective.rank() + " waited for rank 0 to save " + folder
                        + " (up to " + checkpointTimeout.toSeconds() + " s, dist.checkpoint_timeout_seconds): "
                        + e.getMessage(), e);
            }
            return folder;
        }

        /**
         * Continues from the checkpoint at {@code folder}: every rank reads it whole and keeps its own part of the
         * optimizer state. Saved by another world size in the middle of an epoch, the run goes on from the next one.
         */
        void resume(String folder) {
            TrainerState state = restore(run.output().conf(), folder, model.trainableTensors(), optimizer, manager);
            step = state.globalStep();
            epoch = state.epoch();
            position = state.epochPosition();
            String savedWorldSize = state.metadata().get("world_size");
            if (position > 0 && savedWorldSize != null && !savedWorldSize.equals(Integer.toString(collective.worldSize()))) {
                LOG.warn("{} was saved by {} ranks in epoch {}, after {} micro-batches; on {} ranks each rank reads"
                        + " another share of the data, so the run continues from the start of epoch {}",
                        folder, savedWorldSize, epoch, position, collective.worldSize(), epoch + 1);
                epoch++;
                position = 0;
            }
            if (step > 0 && state.rowsTrained().isEmpty()) {
                LOG.warn("{} holds no row counts (an older checkpoint): rows/<task> counts from this resume", folder);
            }
            for (int t = 0; t < rows.length; t++) {
                rows[t] = state.rowsTrained().getOrDefault(run.tasks().get(t).name(), 0L);
            }
            stopping = new EarlyStopping(config.earlyStoppingPatience(), state.bestValidationLoss(), state.patienceCounter());
            if (scaler != null) {
                scaler.restore(state.metadata());
            }
            lastCheckpoint = folder;
        }
    }

    private record StepOutcome(double loss, Map<String, Double> taskLosses, double gradNorm, long tokens) {
    }

    /** Reads the checkpoint at {@code folder} into the trainable tensors (in place) and the optimizer. */
    private static TrainerState restore(Configuration conf, String folder, SortedMap<String, NDArray> trainable,
                                        DataParallelOptimizer optimizer, NDManager manager) {
        try (NDManager scratch = manager.newSubManager()) {
            LoadedCheckpoint checkpoint = TrainingCheckpoints.load(conf, folder, scratch);
            for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                NDArray saved = checkpoint.model().get(e.getKey());
                if (saved == null) {
                    throw new IllegalArgumentException(folder + ": the checkpoint has no tensor '" + e.getKey() + "'");
                }
                // overwrite in place, so every holder of the parameter sees the restored values
                e.getValue().muli(0).addi(saved.toType(e.getValue().getDataType(), false));
            }
            optimizer.loadState(checkpoint.optimizer());
            return checkpoint.state();
        }
    }
}
