package dev.sparktune.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.optim.Gradients;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's training loop, read top to bottom: resume if asked, then for each optimizer step
 * take {@code gradient_accumulation_steps} micro-batches, forward and backward each (weighted by
 * its share of the step's scored tokens), stop on NaN/Inf, clip, update, log, and checkpoint
 * every {@code save_steps} and at the end. Every step runs in its own NDManager.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    private final PeftModel model;
    private final Objective objective;
    private final TrainConfig config;
    private final long padTokenId;
    private final TrainingData validation;
    private final int evalSteps;

    public Trainer(PeftModel model, Objective objective, TrainConfig config, long padTokenId) {
        this(model, objective, config, padTokenId, null, 0);
    }

    private Trainer(PeftModel model, Objective objective, TrainConfig config, long padTokenId, TrainingData validation,
                    int evalSteps) {
        this.model = model;
        this.objective = objective;
        this.config = config;
        this.padTokenId = padTokenId;
        this.validation = validation;
        this.evalSteps = evalSteps;
    }

    /**
     * The same trainer, evaluating the loss on {@code data} every {@code everySteps} optimizer
     * steps; with {@code early_stopping_patience} it stops after that many evaluations without
     * a new best.
     */
    public Trainer withValidation(TrainingData data, int everySteps) {
        if (everySteps < 1) {
            throw new IllegalArgumentException("eval_steps must be >= 1 to validate during training, got " + everySteps);
        }
        return new Trainer(model, objective, config, padTokenId, data, everySteps);
    }

    /**
     * How a run ended: the steps taken, the last training loss, the final checkpoint, the best
     * validation loss (NaN without validation) and whether early stopping ended it.
     */
    public record Result(long steps, double lastLoss, Path checkpoint, double bestValidationLoss, boolean stoppedEarly) {
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
        int batchSize = config.perDeviceTrainBatchSize();
        int accumulation = config.gradientAccumulationSteps();
        long stepsPerEpoch = data.rows() / ((long) batchSize * accumulation);
        if (stepsPerEpoch == 0) {
            throw new IllegalArgumentException(data.rows() + " rows are fewer than one optimizer step needs ("
                    + batchSize + " x " + accumulation + ")");
        }
        long totalSteps = config.maxSteps() > 0 ? config.maxSteps() : (long) Math.ceil(config.numTrainEpochs() * stepsPerEpoch);
        LrSchedule schedule = LrSchedule.from(config, totalSteps);
        TrainingCheckpoints checkpoints = new TrainingCheckpoints(outputDir, config.saveTotalLimit());
        SortedMap<String, NDArray> trainable = model.trainableTensors();
        model.requireGradients();
        PretrainedModel training = model.model(true);   // built once: the same tensors every step
        try (Optimizer optimizer = Optimizer.from(config, manager)) {
            long step = 0;
            int epoch = 0;
            long position = 0;
            EarlyStopping stopping = new EarlyStopping(config.earlyStoppingPatience());
            if (resumeFrom.isPresent()) {
                TrainerState state = restore(resumeFrom.get(), trainable, optimizer, manager);
                step = state.globalStep();
                epoch = state.epoch();
                position = state.epochPosition();
                stopping = new EarlyStopping(config.earlyStoppingPatience(), state.bestValidationLoss(), state.patienceCounter());
            }
            Path last = resumeFrom.orElse(null);
            double loss = Double.NaN;
            long started = System.nanoTime();
            Throughput throughput = new Throughput(20, started);
            try (MetricsLog metrics = resumeFrom.isPresent()
                    ? MetricsLog.resume(outputDir.resolve("metrics.jsonl"), step)
                    : MetricsLog.create(outputDir.resolve("metrics.jsonl"))) {
                while (step < totalSteps) {
                    Iterator<TokenizedRow> rows = data.epoch(config.seed(), epoch, position);
                    while (step < totalSteps) {
                        List<List<TokenizedRow>> micro = take(rows, batchSize, accumulation);
                        if (micro == null) {
                            break;    // the epoch's remainder is too small for a whole step
                        }
                        double lr = schedule.learningRate(config.learningRate(), step);
                        StepOutcome outcome = step(training, micro, step, lr, trainable, optimizer, manager, last);
                        loss = outcome.loss();
                        step++;
                        position += (long) batchSize * accumulation;
                        throughput.step(outcome.tokens(), System.nanoTime());
                        if (step % config.loggingSteps() == 0 || step == totalSteps) {
                            double elapsed = (System.nanoTime() - started) / 1e9;
                            metrics.write(new StepMetrics(step, loss, Map.of(), lr, outcome.gradNorm(),
                                    throughput.tokensPerSecond(), elapsed));
                            LOG.info(ProgressLine.format(step, totalSteps, loss, lr, throughput.tokensPerSecond(),
                                    throughput.eta(totalSteps - step)));
                        }
                        boolean stop = false;
                        if (validation != null && step % evalSteps == 0) {
                            double validationLoss = validate(manager);
                            stop = stopping.observe(validationLoss);
                            metrics.write(new StepMetrics(step, loss, Map.of("validation", validationLoss), lr,
                                    outcome.gradNorm(), throughput.tokensPerSecond(), (System.nanoTime() - started) / 1e9));
                            LOG.info("step {}: validation loss {} (best {}){}", step, validationLoss, stopping.best(),
                                    stop ? "; early stopping" : "");
                        }
                        if (step % config.saveSteps() == 0 || step == totalSteps || step == stopAfter || stop) {
                            last = save(checkpoints, step, epoch, position, trainable, optimizer, stopping);
                        }
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

    /** The mean loss over every validation row, without dropout or gradients. */
    private double validate(NDManager manager) {
        double sum = 0;
        long items = 0;
        PretrainedModel evaluation = model.model(false);
        Iterator<TokenizedRow> rows = validation.epoch(config.seed(), 0, 0);
        while (rows.hasNext()) {
            List<TokenizedRow> batch = new ArrayList<>();
            while (batch.size() < config.perDeviceTrainBatchSize() && rows.hasNext()) {
                batch.add(rows.next());
            }
            try (NDManager step = manager.newSubManager()) {
                Objective.Loss l = objective.loss(evaluation, TrainingBatch.of(batch, padTokenId, step), step);
                sum += l.sum().toType(DataType.FLOAT64, false).getDouble();
                items += l.items();
            }
        }
        return sum / Math.max(items, 1);
    }

    private record StepOutcome(double loss, double gradNorm, long tokens) {
    }

    private StepOutcome step(PretrainedModel training, List<List<TokenizedRow>> micro, long step, double lr, SortedMap<String, NDArray> trainable,
                             Optimizer optimizer, NDManager manager, Path lastGood) {
        try (NDManager stepManager = manager.newSubManager()) {
            List<TrainingBatch> batches = new ArrayList<>();
            for (List<TokenizedRow> rows : micro) {
                batches.add(TrainingBatch.of(rows, padTokenId, stepManager));
            }
            long items = batches.stream().mapToLong(objective::scoredItems).sum();
            double lossSum = 0;
            long tokens = 0;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                for (int i = 0; i < batches.size(); i++) {
                    // dropout masks depend on the step alone, so a resumed run draws the same ones
                    Engine.getInstance().setRandomSeed((int) (config.seed() * 1_000_003 + step * batches.size() + i));
                    Objective.Loss l = objective.loss(training, batches.get(i), stepManager);
                    collector.backward(l.sum().div(Math.max(items, 1)));
                    lossSum += l.sum().toType(DataType.FLOAT64, false).getDouble();
                    tokens += batches.get(i).tokens();
                }
            }
            double loss = lossSum / Math.max(items, 1);
            List<String> bad = Gradients.nonFinite(trainable);
            if (!Double.isFinite(loss) || !bad.isEmpty()) {
                throw new TrainingDivergedException("step " + (step + 1) + ": " + (!Double.isFinite(loss)
                        ? "the loss is " + loss : "non-finite gradients in " + bad) + "; the last good checkpoint is "
                        + (lastGood == null ? "none (nothing was saved yet)" : lastGood.toString()));
            }
            double gradNorm = Gradients.clipByGlobalNorm(trainable, config.maxGradNorm());
            optimizer.step(trainable, lr);
            Gradients.zero(trainable);
            return new StepOutcome(loss, gradNorm, tokens);
        }
    }

    /** The next {@code accumulation} micro-batches of {@code size} rows, or null when fewer rows remain. */
    private static List<List<TokenizedRow>> take(Iterator<TokenizedRow> rows, int size, int accumulation) {
        List<List<TokenizedRow>> micro = new ArrayList<>();
        for (int m = 0; m < accumulation; m++) {
            List<TokenizedRow> batch = new ArrayList<>();
            while (batch.size() < size && rows.hasNext()) {
                batch.add(rows.next());
            }
            if (batch.size() < size) {
                return null;
            }
            micro.add(batch);
        }
        return micro;
    }

    private Path save(TrainingCheckpoints checkpoints, long step, int epoch, long position,
                      SortedMap<String, NDArray> trainable, Optimizer optimizer, EarlyStopping stopping) {
        try (NDManager scratch = NDManager.newBaseManager()) {
            OptionalDouble best = Double.isNaN(stopping.best()) ? OptionalDouble.empty() : OptionalDouble.of(stopping.best());
            TrainerState state = new TrainerState(step, epoch, position, new long[0], step, best, stopping.sinceBest(),
                    Map.of("method", model.method().toString()));
            return checkpoints.save(state, trainable, optimizer.state().export(scratch));
        }
    }

    private static TrainerState restore(Path folder, SortedMap<String, NDArray> trainable, Optimizer optimizer,
                                        NDManager manager) {
        try (NDManager scratch = manager.newSubManager()) {
            LoadedCheckpoint checkpoint = TrainingCheckpoints.load(folder, scratch);
            for (Map.Entry<String, NDArray> e : trainable.entrySet()) {
                NDArray saved = checkpoint.model().get(e.getKey());
                if (saved == null) {
                    throw new IllegalArgumentException(folder + ": the checkpoint has no tensor '" + e.getKey() + "'");
                }
                // overwrite in place, so every holder of the parameter sees the restored values
                e.getValue().muli(0).addi(saved.toType(e.getValue().getDataType(), false));
            }
            optimizer.state().load(checkpoint.optimizer());
            return checkpoint.state();
        }
    }
}
