package dev.sparktune.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.DistConfig;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.DataParallelOptimizer;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.Scalars;
import dev.sparktune.optim.LrSchedule;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's training loop, read top to bottom: resume if asked, then for each optimizer step
 * take {@code gradient_accumulation_steps} micro-batches, forward and backward each (weighted by
 * its share of the step's scored tokens), stop on NaN/Inf, clip, update, log, and checkpoint
 * every {@code save_steps} and at the end. Every step runs in its own NDManager.
 *
 * <p>A run can train several tasks ({@link TrainingTask}): a {@link TaskMix} picks the task of each
 * micro-batch, each task's loss is the token- (or row-) weighted mean over its micro-batches of the
 * step, and the step's loss weighs the tasks by their share of the step's micro-batches. With one
 * task this is exactly the single-task rule. Metrics then report each task's loss.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    /**
     * DJL's PyTorch engine allows one GradientCollector per JVM at a time, so ranks that share a JVM (threads in
     * tests, or a Spark executor running several rank tasks) take turns for their forward and backward passes.
     */
    private static final Object GRADIENT_COLLECTION = new Object();

    private final PeftModel model;
    private final Objective objective;
    private final TrainConfig config;
    private final long padTokenId;
    private final List<TrainingTask> validation;
    private final int evalSteps;
    private final Collective collective;
    private final int zeroStage;
    private final long bucketSize;
    private final StepListener listener;

    /** A trainer whose single-dataset methods train {@code objective}. */
    public Trainer(PeftModel model, Objective objective, TrainConfig config, long padTokenId) {
        this(model, objective, config, padTokenId, List.of(), 0, InProcessCollective.group(1).get(0), 0, Long.MAX_VALUE,
                StepListener.NONE);
    }

    private Trainer(PeftModel model, Objective objective, TrainConfig config, long padTokenId,
                    List<TrainingTask> validation, int evalSteps, Collective collective, int zeroStage, long bucketSize,
                    StepListener listener) {
        this.model = model;
        this.objective = objective;
        this.config = config;
        this.padTokenId = padTokenId;
        this.validation = List.copyOf(validation);
        this.evalSteps = evalSteps;
        this.collective = collective;
        this.zeroStage = zeroStage;
        this.bucketSize = bucketSize;
        this.listener = listener;
    }

    /**
     * The same trainer as one rank of a data-parallel run over {@code collective}. Each rank reads only its share of
     * each task's Parquet row groups ({@link TrainingData#shards}: whole groups, balanced by rows, a different share
     * every epoch) and builds micro-batches of {@code per_device_train_batch_size} rows from it; every rank takes as
     * many micro-batches per epoch as the smallest share holds, so the ranks agree on the task plan and the steps
     * without talking, and drop their surplus rows of the epoch. Gradients are combined with ZeRO stage
     * {@code zero_stage} in buckets of {@code reduce_bucket_size} elements, and rank 0 alone writes checkpoints and
     * metrics. N ranks then train as one rank whose micro-batches of N x per_device_train_batch_size rows hold the
     * ranks' micro-batches side by side. Validation is not sharded: every rank evaluates the whole validation set.
     *
     * <p>A resume continues exactly when the checkpoint was written by as many ranks. With another world size the
     * shares, and so the rest of the interrupted epoch, are not the same: the run then continues from the start of
     * the next epoch, skipping what the interrupted epoch had left (with a warning), at the step count and with the
     * parameters and optimizer state of the checkpoint. The learning-rate schedule spans the new world size's steps.
     */
    public Trainer withDataParallel(Collective collective, DistConfig dist) {
        return new Trainer(model, objective, config, padTokenId, validation, evalSteps, collective, dist.zeroStage(),
                dist.reduceBucketSize(), listener);
    }

    /**
     * The same trainer, evaluating the loss on {@code data} every {@code everySteps} optimizer
     * steps; with {@code early_stopping_patience} it stops after that many evaluations without
     * a new best.
     */
    public Trainer withValidation(TrainingData data, int everySteps) {
        return withValidation(List.of(new TrainingTask("validation", data, objective)), everySteps);
    }

    /**
     * As {@link #withValidation(TrainingData, int)} for several tasks: the validation loss is the
     * mean of the tasks' mean losses, and each task's is logged.
     */
    public Trainer withValidation(List<TrainingTask> tasks, int everySteps) {
        if (everySteps < 1) {
            throw new IllegalArgumentException("eval_steps must be >= 1 to validate during training, got " + everySteps);
        }
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("validation needs at least one task");
        }
        return new Trainer(model, objective, config, padTokenId, tasks, everySteps, collective, zeroStage, bucketSize,
                listener);
    }

    /** The same trainer, telling {@code listener} about every step this rank finishes. */
    public Trainer withStepListener(StepListener listener) {
        return new Trainer(model, objective, config, padTokenId, validation, evalSteps, collective, zeroStage, bucketSize,
                listener);
    }

    /**
     * How a run ended: the steps taken, the last training loss, the final checkpoint's location, the best
     * validation loss (NaN without validation) and whether early stopping ended it.
     */
    public record Result(long steps, double lastLoss, String checkpoint, double bestValidationLoss, boolean stoppedEarly) {
    }

    /**
     * Trains until {@code max_steps}, or {@code num_train_epochs} over {@code data}. With
     * {@code resumeFrom}, continues from that checkpoint folder exactly as the saved run would have.
     */
    public Result train(TrainingData data, Path outputDir, Optional<Path> resumeFrom, NDManager manager) {
        return train(data, outputDir, resumeFrom, manager, Long.MAX_VALUE);
    }

    /**
     * As {@link #train(TrainingData, Path, Optional, NDManager)}, but stops after step
     * {@code stopAfter} with a checkpoint, as a preempted job would: the schedule still
     * spans the whole run, so a resume continues it unchanged.
     */
    public Result train(TrainingData data, Path outputDir, Optional<Path> resumeFrom, NDManager manager, long stopAfter) {
        return train(data, OutputFolder.local(outputDir), resumeFrom.map(OutputFolder::localLocation), manager, stopAfter);
    }

    /**
     * As {@link #train(TrainingData, Path, Optional, NDManager, long)} with the output folder on any
     * Hadoop file system; {@code resumeFrom} is a checkpoint folder's location, read with the output
     * folder's configuration.
     */
    public Result train(TrainingData data, OutputFolder output, Optional<String> resumeFrom, NDManager manager,
                        long stopAfter) {
        return train(List.of(new TrainingTask("train", data, objective)), TaskMix.concat(), output, resumeFrom,
                manager, stopAfter);
    }

    /** As {@link #train(List, TaskMix, OutputFolder, Optional, NDManager, long)} with a local output folder. */
    public Result train(List<TrainingTask> tasks, TaskMix mix, Path outputDir, Optional<Path> resumeFrom,
                        NDManager manager, long stopAfter) {
        return train(tasks, mix, OutputFolder.local(outputDir), resumeFrom.map(OutputFolder::localLocation), manager,
                stopAfter);
    }

    /**
     * Trains several tasks, mixed by {@code mix}; an epoch is one pass of the mix's plan. Stops after
     * {@code max_steps}, {@code num_train_epochs}, or step {@code stopAfter} (with a checkpoint).
     * Checkpoints and {@code metrics.jsonl} go to {@code output}, on any Hadoop file system; with
     * {@code resumeFrom}, a checkpoint folder's location, the run continues from it.
     */
    public Result train(List<TrainingTask> tasks, TaskMix mix, OutputFolder output, Optional<String> resumeFrom,
                        NDManager manager, long stopAfter) {
        int batchSize = config.perDeviceTrainBatchSize();   // this rank's micro-batch, from its share of the rows
        int accumulation = config.gradientAccumulationSteps();
        int rank = collective.rank();
        int worldSize = collective.worldSize();
        long stepsPerEpoch = new MicroBatches(tasks, mix, config.seed(), 0, batchSize, false, rank, worldSize).length()
                / accumulation;
        if (stepsPerEpoch == 0) {
            throw new IllegalArgumentException("an epoch has fewer micro-batches of " + batchSize + " rows"
                    + (worldSize > 1 ? " per rank on " + worldSize + " ranks" : "")
                    + " than one optimizer step needs (" + accumulation + ")");
        }
        long totalSteps = config.maxSteps() > 0 ? config.maxSteps() : (long) Math.ceil(config.numTrainEpochs() * stepsPerEpoch);
        LrSchedule schedule = LrSchedule.from(config, totalSteps);
        TrainingCheckpoints checkpoints = new TrainingCheckpoints(output.conf(), output.location(), config.saveTotalLimit());
        SortedMap<String, NDArray> trainable = model.trainableTensors();
        model.requireGradients();
        JniUtils.setGradMode(false);   // a new thread (a Spark task's) starts with autograd on; updates are in place
        PretrainedModel training = model.model(true);   // built once: the same tensors every step
        boolean writer = collective.rank() == 0;
        try (DataParallelOptimizer optimizer = new DataParallelOptimizer(collective, zeroStage, bucketSize,
                Optimizer.from(config, manager), trainable)) {
            long step = 0;
            int epoch = 0;
            long position = 0;
            EarlyStopping stopping = new EarlyStopping(config.earlyStoppingPatience());
            if (resumeFrom.isPresent()) {
                TrainerState state = restore(output.conf(), resumeFrom.get(), trainable, optimizer, manager);
                step = state.globalStep();
                epoch = state.epoch();
                position = state.epochPosition();
                String savedWorldSize = state.metadata().get("world_size");
                if (position > 0 && savedWorldSize != null && !savedWorldSize.equals(Integer.toString(worldSize))) {
                    LOG.warn("{} was saved by {} ranks in epoch {}, after {} micro-batches; on {} ranks each rank reads"
                            + " another share of the data, so the run continues from the start of epoch {}",
                            resumeFrom.get(), savedWorldSize, epoch, position, worldSize, epoch + 1);
                    epoch++;
                    position = 0;
                }
                stopping = new EarlyStopping(config.earlyStoppingPatience(), state.bestValidationLoss(), state.patienceCounter());
            }
            String last = resumeFrom.orElse(null);
            if (stopping.stopped()) {
                // the saved run had stopped early: a retried stage or a rerun must not train on past that decision
                LOG.info("step {}: the run resumed from {} had stopped early; nothing left to train", step, last);
                return new Result(step, Double.NaN, last, stopping.best(), true);
            }
            double loss = Double.NaN;
            long started = System.nanoTime();
            Throughput throughput = new Throughput(20, started);
            try (MetricsLog metrics = !writer ? null : resumeFrom.isPresent()
                    ? MetricsLog.resume(output.conf(), output.resolve("metrics.jsonl"), step)
                    : MetricsLog.create(output.conf(), output.resolve("metrics.jsonl"))) {
                while (step < totalSteps) {
                    MicroBatches batches = new MicroBatches(tasks, mix, config.seed(), epoch, batchSize,
                            config.groupByLength(), rank, worldSize);
                    batches.skip(position);
                    while (step < totalSteps) {
                        List<MicroBatches.MicroBatch> micro = take(batches, accumulation);
                        if (micro == null) {
                            break;    // the epoch's remainder is too small for a whole step
                        }
                        double lr = schedule.learningRate(config.learningRate(), step);
                        StepOutcome outcome = step(training, tasks, micro, step, lr, optimizer, manager, last);
                        loss = outcome.loss();
                        step++;
                        position = batches.position();
                        throughput.step(outcome.tokens(), System.nanoTime());
                        if (writer && (step % config.loggingSteps() == 0 || step == totalSteps)) {
                            double elapsed = (System.nanoTime() - started) / 1e9;
                            metrics.write(new StepMetrics(step, loss, tasks.size() > 1 ? outcome.taskLosses() : Map.of(),
                                    lr, outcome.gradNorm(), throughput.tokensPerSecond(), elapsed));
                            LOG.info(ProgressLine.format(step, totalSteps, loss, lr, throughput.tokensPerSecond(),
                                    throughput.eta(totalSteps - step)));
                        }
                        boolean stop = false;
                        if (!validation.isEmpty() && step % evalSteps == 0) {
                            Map<String, Double> losses = evaluate(validation, manager);
                            // every rank stops on rank 0's loss, so a last-bit difference cannot stop one rank alone
                            double validationLoss = optimizer.sum(new double[] {
                                collective.rank() == 0 ? losses.get("validation") : 0})[0];
                            stop = stopping.observe(validationLoss);
                            if (writer) {
                                metrics.write(new StepMetrics(step, loss, losses, lr, outcome.gradNorm(),
                                        throughput.tokensPerSecond(), (System.nanoTime() - started) / 1e9));
                            }
                            LOG.info("step {}: validation loss {} (best {}){}", step, validationLoss, stopping.best(),
                                    stop ? "; early stopping" : "");
                        }
                        if (step % config.saveSteps() == 0 || step == totalSteps || step == stopAfter || stop) {
                            last = save(checkpoints, step, epoch, position, trainable, optimizer, stopping);
                        }
                        listener.afterStep(new StepListener.StepProgress(collective.rank(), totalSteps,
                                new StepMetrics(step, loss, outcome.taskLosses(), lr, outcome.gradNorm(),
                                        throughput.tokensPerSecond(), (System.nanoTime() - started) / 1e9),
                                throughput.eta(totalSteps - step)));
                        if (step == stopAfter || stop) {
                            return new Result(step, loss, last, stopping.best(), stop);
                        }
                    }
                    if (step < totalSteps) {
                        epoch++;
                        position = 0;
                    }
                }
            }
            return new Result(step, loss, last, stopping.best(), false);
        }
    }

    /**
     * The mean loss over every row of each task, without dropout or gradients, under
     * {@code validation/<task>} when there are several, and their mean under {@code validation}.
     */
    public Map<String, Double> evaluate(List<TrainingTask> tasks, NDManager manager) {
        Map<String, Double> losses = new TreeMap<>();
        PretrainedModel evaluation = model.model(false);
        double sumOfMeans = 0;
        for (TrainingTask task : tasks) {
            double sum = 0;
            long items = 0;
            Iterator<TokenizedRow> rows = task.data().epoch(config.seed(), 0, 0);
            while (rows.hasNext()) {
                List<TokenizedRow> batch = new ArrayList<>();
                while (batch.size() < config.perDeviceTrainBatchSize() && rows.hasNext()) {
                    batch.add(rows.next());
                }
                try (NDManager step = manager.newSubManager()) {
                    Objective.Loss l = task.objective().loss(evaluation, TrainingBatch.of(batch, padTokenId, step), step);
                    sum += l.sum().toType(DataType.FLOAT64, false).getDouble();
                    items += l.items();
                }
            }
            double mean = sum / Math.max(items, 1);
            sumOfMeans += mean;
            if (tasks.size() > 1) {
                losses.put("validation/" + task.name(), mean);
            }
        }
        losses.put("validation", sumOfMeans / tasks.size());
        return losses;
    }

    private record StepOutcome(double loss, Map<String, Double> taskLosses, double gradNorm, long tokens) {
    }

    private StepOutcome step(PretrainedModel training, List<TrainingTask> tasks, List<MicroBatches.MicroBatch> micro,
                             long step, double lr, DataParallelOptimizer optimizer, NDManager manager, String lastGood) {
        try (NDManager stepManager = manager.newSubManager()) {
            int n = tasks.size();
            int rank = collective.rank();
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
            synchronized (GRADIENT_COLLECTION) {
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    for (int i = 0; i < batches.size(); i++) {
                        int task = micro.get(i).task();
                        // dropout masks depend on the step (and rank) alone, so a resumed run draws the same ones
                        Engine.getInstance().setRandomSeed((int) (config.seed() * 1_000_003 + step * batches.size() + i
                                + rank * 7_919L));
                        Objective.Loss l = tasks.get(task).objective().loss(training, batches.get(i), stepManager);
                        // d(loss)/d(sum) for loss = sum over tasks of (count/M) * (task's summed loss / task's items)
                        double divisor = (double) micro.size() * Math.max(items[task], 1) / count[task];
                        collector.backward(Scalars.dividedBy(l.sum(), divisor));
                        lossSums[task] += l.sum().toType(DataType.FLOAT64, false).getDouble();
                        lossSums[n] += batches.get(i).tokens();
                    }
                }
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
            DataParallelOptimizer.Update update = Double.isFinite(loss) ? optimizer.step(lr, config.maxGradNorm()) : null;
            if (update == null || update.diverged()) {
                throw new TrainingDivergedException("step " + (step + 1) + ": " + (update == null
                        ? "the loss is " + loss : "non-finite gradients in " + update.nonFinite())
                        + "; the last good checkpoint is "
                        + (lastGood == null ? "none (nothing was saved yet)" : lastGood.toString()));
            }
            return new StepOutcome(loss, taskLosses, update.gradNorm(), tokens);
        }
    }

    /** The next {@code accumulation} micro-batches, or null when fewer remain in the epoch. */
    private static List<MicroBatches.MicroBatch> take(MicroBatches batches, int accumulation) {
        List<MicroBatches.MicroBatch> micro = new ArrayList<>();
        while (micro.size() < accumulation && batches.hasNext()) {
            micro.add(batches.next());
        }
        return micro.size() == accumulation ? micro : null;
    }

    /** Every rank gathers the optimizer state (a collective); rank 0 alone writes the checkpoint. */
    private String save(TrainingCheckpoints checkpoints, long step, int epoch, long position,
                      SortedMap<String, NDArray> trainable, DataParallelOptimizer optimizer, EarlyStopping stopping) {
        try (NDManager scratch = NDManager.newBaseManager()) {
            SortedMap<String, NDArray> optimizerState = optimizer.exportState(scratch);
            if (collective.rank() != 0) {
                return checkpoints.folder(step);
            }
            OptionalDouble best = Double.isNaN(stopping.best()) ? OptionalDouble.empty() : OptionalDouble.of(stopping.best());
            TrainerState state = new TrainerState(step, epoch, position, new long[0], step, best, stopping.sinceBest(),
                    Map.of("method", model.method().toString(), "world_size", Integer.toString(collective.worldSize()),
                            "zero_stage", Integer.toString(zeroStage)));
            return checkpoints.save(state, trainable, optimizerState);
        }
    }

    /** Every rank reads the whole checkpoint and keeps its own part of the optimizer state. */
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
