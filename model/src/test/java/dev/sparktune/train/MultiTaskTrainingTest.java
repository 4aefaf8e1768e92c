package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.Scalars;
import dev.sparktune.optim.Gradients;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.LongUnaryOperator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several tasks in one run: the step's weighting, per-task metrics, task heads on a shared encoder, replay. */
class MultiTaskTrainingTest {
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT32);
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static TrainConfig train(String... overrides) {
        return ConfigLoader.parse("", "test", List.of(overrides)).job().train();
    }

    private TrainingData write(String name, List<TokenizedRow> rows) {
        TokenizedParquet.write(CONF, dir.resolve("data/" + name + "/part-0.parquet").toString(), rows, 1 << 16);
        return TrainingData.open(CONF, dir.resolve("data/" + name).toString());
    }

    /** Sequences that follow {@code next}: a "language" a tiny model can learn. */
    private TrainingData sequences(String name, int rows, int length, LongUnaryOperator next, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> out = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            long[] ids = new long[length];
            ids[0] = 1 + random.nextInt(60);
            for (int t = 1; t < length; t++) {
                ids[t] = next.applyAsLong(ids[t - 1]);
            }
            out.add(new TokenizedRow(ids, null, null, null, null));
        }
        return write(name, out);
    }

    private PeftModel llama(DataType dtype) {
        Path model = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        return PeftModel.apply(ModelDirectory.open(model).load(manager, dtype), new FullFineTuning(), manager, 3);
    }

    private static SortedMap<String, double[]> values(PeftModel model) {
        SortedMap<String, double[]> out = new TreeMap<>();
        model.trainableTensors().forEach((k, v) -> out.put(k, v.toType(DataType.FLOAT64, false).toDoubleArray()));
        return out;
    }

    @Test
    void aStepWeighsEachTasksMeanLossByItsShareOfTheMicroBatches() {
        // Two tasks of very different token counts, one micro-batch of each per step (round robin): the step must
        // follow the gradient of 0.5 * mean(task a) + 0.5 * mean(task b), not of the token-weighted pooled mean.
        Objective exact = new Objective.CausalLm(CausalLmLoss.FLOAT64);
        List<TrainingTask> tasks = List.of(
                new TrainingTask("long", sequences("long", 8, 24, t -> t % 60 + 1, 1), exact),
                new TrainingTask("short", sequences("short", 8, 4, t -> (t + 6) % 60 + 1, 2), exact));
        TaskMix roundRobin = new TaskMix(MixStrategy.INTERLEAVE_UNDER, List.of(), 0);
        TrainConfig config = train("train.optim=sgd", "train.sgd_momentum=0", "train.learning_rate=1",
                "train.lr_scheduler_type=constant", "train.max_grad_norm=0", "train.max_steps=1",
                "train.per_device_train_batch_size=4", "train.gradient_accumulation_steps=2", "train.seed=9");
        PeftModel model = llama(DataType.FLOAT64);
        SortedMap<String, double[]> before = values(model);

        // the reference gradient, from the same micro-batches the trainer will draw
        List<MicroBatches.MicroBatch> micro = new ArrayList<>();
        MicroBatches batches = new MicroBatches(tasks, roundRobin, config.seed(), 0, 4);
        micro.add(batches.next());
        micro.add(batches.next());
        assertEquals(List.of(0, 1), micro.stream().map(MicroBatches.MicroBatch::task).toList());
        SortedMap<String, double[]> expected = new TreeMap<>();
        model.requireGradients();
        try (NDManager step = manager.newSubManager()) {
            PretrainedModel m = model.model(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray objective = null;
                for (MicroBatches.MicroBatch b : micro) {
                    Objective.Loss l = exact.loss(m, TrainingBatch.of(b.rows(), 0, step), step);
                    NDArray mean = Scalars.times(Scalars.dividedBy(l.sum(), l.items()), 0.5);
                    objective = objective == null ? mean : objective.add(mean);
                }
                collector.backward(objective);
            }
            model.trainableTensors().forEach((name, p) -> {
                double[] g = p.getGradient().toDoubleArray();
                double[] w = before.get(name).clone();
                for (int i = 0; i < w.length; i++) {
                    w[i] -= g[i];    // SGD, lr 1, no momentum
                }
                expected.put(name, w);
            });
            Gradients.zero(model.trainableTensors());
        }

        new Trainer(model, config, 0).train(run(tasks, roundRobin, "out"), manager);

        SortedMap<String, double[]> after = values(model);
        double worst = 0;
        double moved = 0;
        for (String name : expected.keySet()) {
            for (int i = 0; i < expected.get(name).length; i++) {
                worst = Math.max(worst, Math.abs(after.get(name)[i] - expected.get(name)[i]));
                moved = Math.max(moved, Math.abs(after.get(name)[i] - before.get(name)[i]));
            }
        }
        assertTrue(moved > 1e-3, "the step must move the parameters");
        assertTrue(worst < 1e-12, "float64 step vs the task-weighted reference gradient: " + worst);
    }

    @Test
    void twoClassificationHeadsOnASharedEncoderEachLearnTheirTaskAndLogTheirLoss() throws Exception {
        Path modelDir = TinyModels.writeRandom(dir.resolve("bert"), TinyModels.bertJson(), 5);
        Bert base = ((Bert) ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32))
                .withClassifier("classifier", 2, manager, 1)
                .withClassifier("classifier_thirteen", 2, manager, 2);
        PeftModel model = PeftModel.apply(base, new FullFineTuning(), manager, 5);
        Random random = new Random(4);
        List<TokenizedRow> seven = new ArrayList<>();
        List<TokenizedRow> thirteen = new ArrayList<>();
        for (int r = 0; r < 64; r++) {
            // two independent questions about the same kind of rows: does token 7 occur, does token 13 occur?
            long[] ids = random.longs(6, 20, 50).toArray();
            boolean hasSeven = random.nextBoolean();
            boolean hasThirteen = random.nextBoolean();
            if (hasSeven) {
                ids[random.nextInt(6)] = 7;
            }
            long[] other = random.longs(6, 20, 50).toArray();
            if (hasThirteen) {
                other[random.nextInt(6)] = 13;
            }
            seven.add(new TokenizedRow(ids, null, null, hasSeven ? 1L : 0L, null));
            thirteen.add(new TokenizedRow(other, null, null, hasThirteen ? 1L : 0L, null));
        }
        List<TrainingTask> tasks = List.of(
                new TrainingTask("seven", write("seven", seven), new Objective.Classification(ClassificationLoss.PLAIN)),
                new TrainingTask("thirteen", write("thirteen", thirteen),
                        new Objective.Classification(ClassificationLoss.PLAIN, "classifier_thirteen")));
        SortedMap<String, double[]> before = values(model);
        TrainConfig config = train("train.learning_rate=3e-3", "train.max_steps=40", "train.logging_steps=1",
                "train.per_device_train_batch_size=8", "train.gradient_accumulation_steps=2", "train.save_steps=40");

        new Trainer(model, config, 0).train(run(tasks, new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(), 0), "out"),
                manager);

        List<StepMetrics> logged = MetricsLog.read(dir.resolve("out/metrics.jsonl"));
        assertEquals(40, logged.size());
        for (StepMetrics m : logged) {
            assertEquals(List.of("seven", "thirteen"), List.copyOf(m.taskLosses().keySet()), "step " + m.step());
            assertEquals(m.loss(), (m.taskLosses().get("seven") + m.taskLosses().get("thirteen")) / 2, 1e-9);
        }
        for (String task : List.of("seven", "thirteen")) {
            double first = logged.subList(0, 10).stream().mapToDouble(m -> m.taskLosses().get(task)).average().orElseThrow();
            double last = logged.subList(30, 40).stream().mapToDouble(m -> m.taskLosses().get(task)).average().orElseThrow();
            System.out.printf("task %s: mean training loss of steps 1-10 %.4f, of steps 31-40 %.4f%n", task, first, last);
            assertTrue(last < 0.85 * first, task + " did not learn: " + first + " -> " + last);
        }
        SortedMap<String, double[]> after = values(model);
        for (String head : List.of("classifier.weight", "classifier_thirteen.weight")) {
            assertTrue(maxDifference(before.get(head), after.get(head)) > 1e-3, head + " did not train");
        }
    }

    @Test
    void replayingGeneralTextDuringContinuedPretrainingLimitsForgetting() {
        // "general" text counts up by 1, the new "domain" counts up by 7. After learning general text, continuing on
        // the domain alone forgets it; mixing a replay share of general text back in must forget much less.
        LongUnaryOperator general = t -> t % 60 + 1;
        LongUnaryOperator domain = t -> (t + 6) % 60 + 1;
        TrainingTask generalTask = new TrainingTask("general", sequences("general", 64, 12, general, 1), LM);
        TrainingTask domainTask = new TrainingTask("domain", sequences("domain", 64, 12, domain, 2), LM);
        TrainingTask generalHeldOut = new TrainingTask("general", sequences("general-eval", 16, 12, general, 3), LM);
        String[] common = {"train.learning_rate=1e-2", "train.per_device_train_batch_size=8", "train.max_grad_norm=1",
            "train.lr_scheduler_type=constant", "train.logging_steps=50", "train.save_steps=1000"};

        PeftModel pretrained = llama(DataType.FLOAT32);
        new Trainer(pretrained, train(with(common, "train.max_steps=50")), 0)
                .train(run(List.of(generalTask), TaskMix.concat(), "pt"), manager);
        double learned = loss(pretrained, generalHeldOut);

        PeftModel alone = copyOf(pretrained);
        new Trainer(alone, train(with(common, "train.max_steps=40")), 0)
                .train(run(List.of(domainTask), TaskMix.concat(), "alone"), manager);
        PeftModel replayed = copyOf(pretrained);
        new Trainer(replayed, train(with(common, "train.max_steps=40", "train.gradient_accumulation_steps=2")), 0)
                .train(run(List.of(domainTask, generalTask),
                        new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(0.5, 0.5), 0), "replay"), manager);

        double forgotAlone = loss(alone, generalHeldOut);
        double forgotReplayed = loss(replayed, generalHeldOut);
        double domainAlone = loss(alone, new TrainingTask("domain", domainTask.data(), LM));
        double domainReplayed = loss(replayed, new TrainingTask("domain", domainTask.data(), LM));
        System.out.printf("general-text loss: %.4f after pretraining; after 40 domain steps %.4f alone, %.4f with"
                + " replay (domain loss %.4f alone, %.4f with replay)%n", learned, forgotAlone, forgotReplayed,
                domainAlone, domainReplayed);
        assertTrue(forgotAlone > 2 * learned, "the domain-only run should forget general text: " + forgotAlone);
        assertTrue(forgotReplayed < 0.5 * forgotAlone, "replay should keep general text: " + forgotReplayed);
        assertTrue(domainReplayed < 0.5 * loss(pretrained, new TrainingTask("domain", domainTask.data(), LM)),
                "the replay run must still learn the domain");
    }

    /**
     * interleave_probs [0.8, 0.2] over 3,600 micro-batches of one row: the rows/<task> counts are the draws of the
     * mix's task plan, and each task's share is within 2 points of the asked one (a binomial share's standard
     * deviation is sqrt(0.8 * 0.2 / 3600) = 0.67 points, so 2 points is 3 of them).
     */
    @Test
    void interleaveProbsGiveEachTaskItsAskedShareOfTheRows() {
        List<TrainingTask> tasks = List.of(
                new TrainingTask("often", sequences("often", 3000, 2, t -> t % 60 + 1, 1), LM),
                new TrainingTask("rarely", sequences("rarely", 1000, 2, t -> (t + 6) % 60 + 1, 2), LM));
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_UNDER, List.of(0.8, 0.2), 0);
        TrainConfig config = train("train.max_steps=72", "train.gradient_accumulation_steps=50",
                "train.per_device_train_batch_size=1", "train.logging_steps=24", "train.save_steps=1000",
                "train.learning_rate=1e-3");
        // one layer, trained through its last projection only: the least work a step can be
        String oneLayer = TinyModels.llamaJson("llama", 4, 2, false, "").replace("\"num_hidden_layers\": 2",
                "\"num_hidden_layers\": 1");
        PeftModel model = PeftModel.apply(ModelDirectory.open(TinyModels.writeRandom(dir.resolve("llama"), oneLayer, 3))
                .load(manager, DataType.FLOAT32), new Lora(2, 4, 0, List.of("down_proj"), false, false, List.of()),
                manager, 3);

        new Trainer(model, config, 0).train(run(tasks, mix, "shares"), manager);

        List<StepMetrics> logged = MetricsLog.read(dir.resolve("shares/metrics.jsonl"));
        assertEquals(List.of(24L, 48L, 72L), logged.stream().map(StepMetrics::step).toList());
        // the reference: the mix's own task plan for epoch 0, counted draw by draw
        EpochPlan plan = mix.mixer(List.of(new Task("often", 3000), new Task("rarely", 1000))).taskPlan(config.seed(), 0);
        long[] draws = new long[2];
        for (StepMetrics m : logged) {
            while (draws[0] + draws[1] < 50 * m.step()) {
                draws[plan.next().task()]++;
            }
            assertEquals(Map.of("often", draws[0], "rarely", draws[1]), m.rows(), "step " + m.step());
        }
        double share = (double) draws[0] / (draws[0] + draws[1]);
        System.out.printf("interleave_probs [0.8, 0.2], 3600 rows: %d and %d, share %.4f%n", draws[0], draws[1], share);
        assertEquals(0.8, share, 0.02);
    }

    private static String[] with(String[] common, String... more) {
        List<String> all = new ArrayList<>(List.of(common));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private PeftModel copyOf(PeftModel source) {
        PeftModel copy = llama(DataType.FLOAT32);
        Map<String, NDArray> from = source.trainableTensors();
        copy.trainableTensors().forEach((name, p) -> p.muli(0).addi(from.get(name)));
        return copy;
    }

    /** The mean loss of one task, as the trainer's validation computes it. */
    private double loss(PeftModel model, TrainingTask task) {
        return new Validation(List.of(task), TrainerTest.eval(), train().seed(), 0, null)
                .evaluate(model.model(false), InProcessCollective.group(1).get(0), manager).get(Validation.LOSS);
    }

    private Trainer.Run run(List<TrainingTask> tasks, TaskMix mix, String folder) {
        return new Trainer.Run(tasks, mix, OutputFolder.local(dir.resolve(folder)), Optional.empty());
    }

    private static double maxDifference(double[] a, double[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }
}
