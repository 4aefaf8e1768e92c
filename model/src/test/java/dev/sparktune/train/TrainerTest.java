package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.EvalConfig;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop on a tiny random Llama and tokenized Parquet the test writes. */
class TrainerTest {
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT32);

    private NDManager manager;

    @TempDir
    Path dir;

    private Path modelDir;
    private TrainingData data;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            labels[1] = i % 2 == 0 ? -100 : labels[1];    // an SFT-like masked prompt on half the rows
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        Configuration conf = new Configuration();
        TokenizedParquet.write(conf, dir.resolve("data/part-0.parquet").toString(), rows, 512);
        data = TrainingData.open(conf, dir.resolve("data").toString());
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static List<String> overrides(String... more) {
        List<String> all = new ArrayList<>(List.of("train.logging_steps=1", "train.warmup_steps=2",
                "train.lr_scheduler_type=cosine", "train.weight_decay=0.01"));
        all.addAll(List.of(more));
        return all;
    }

    private static TrainConfig train(String... more) {
        return ConfigLoader.parse("", "test", overrides(more)).job().train();
    }

    static EvalConfig eval(String... keys) {
        return ConfigLoader.parse("", "test", List.of(keys)).job().eval();
    }

    private PeftModel fresh(Method method, NDManager m) {
        PretrainedModel base = ModelDirectory.open(modelDir).load(m, DataType.FLOAT32);
        return PeftModel.apply(base, method, m, ResumeRun.SEED);
    }

    /** A run on {@code data} alone, into the local folder {@code dir/<folder>}. */
    private Trainer.Run run(String folder) {
        return run(data, folder, Optional.empty());
    }

    static Trainer.Run run(TrainingData data, Path folder, Optional<String> resumeFrom) {
        return new Trainer.Run(List.of(new TrainingTask("train", data, LM)), TaskMix.concat(), OutputFolder.local(folder),
                resumeFrom);
    }

    private Trainer.Run run(TrainingData data, String folder, Optional<String> resumeFrom) {
        return run(data, dir.resolve(folder), resumeFrom);
    }

    /** A checkpoint location the trainer gave back for a local output folder, as a local path. */
    static Path local(String location) {
        return Path.of(URI.create(location));
    }

    private static SortedMap<String, float[]> values(Map<String, NDArray> tensors) {
        SortedMap<String, float[]> out = new TreeMap<>();
        tensors.forEach((k, v) -> out.put(k, v.toType(DataType.FLOAT32, false).toFloatArray()));
        return out;
    }

    private static double maxDifference(SortedMap<String, float[]> a, SortedMap<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double worst = 0;
        for (String k : a.keySet()) {
            for (int i = 0; i < a.get(k).length; i++) {
                worst = Math.max(worst, Math.abs(a.get(k)[i] - b.get(k)[i]));
            }
        }
        return worst;
    }

    @Test
    void accumulatingMicroBatchesEqualsOneBatchThatManyTimesLarger() {
        TrainConfig accumulated = train("train.optim=sgd", "train.sgd_momentum=0", "train.learning_rate=0.5",
                "train.per_device_train_batch_size=2", "train.gradient_accumulation_steps=4", "train.max_steps=3",
                "train.max_grad_norm=0");
        TrainConfig whole = train("train.optim=sgd", "train.sgd_momentum=0", "train.learning_rate=0.5",
                "train.per_device_train_batch_size=8", "train.gradient_accumulation_steps=1", "train.max_steps=3",
                "train.max_grad_norm=0");
        PeftModel a = fresh(new FullFineTuning(), manager);
        PeftModel b = fresh(new FullFineTuning(), manager);
        SortedMap<String, float[]> before = values(a.trainableTensors());

        new Trainer(a, accumulated, 0).train(run("a"), manager);
        new Trainer(b, whole, 0).train(run("b"), manager);

        double diff = maxDifference(values(a.trainableTensors()), values(b.trainableTensors()));
        System.out.println("accumulation 4 x 2 vs 1 x 8, max parameter difference after 3 steps: " + diff);
        assertTrue(diff <= 1e-5, "accumulated vs whole batch: " + diff);
        assertTrue(maxDifference(before, values(a.trainableTensors())) > 1e-3, "training must move the parameters");
    }

    @Test
    void resumingFromACheckpointInANewProcessContinuesTheUninterruptedRun() throws Exception {
        // AdamW, whose normalisation magnifies any last-bit difference: the two runs must agree exactly. (In CI's
        // long-lived JVM they once did not, when backward read scalar operands a GC had freed: see nn.Scalars.)
        String[] common = {"train.optim=adamw", "train.learning_rate=0.01", "train.per_device_train_batch_size=4",
            "train.gradient_accumulation_steps=2", "train.save_steps=10", "train.max_steps=20"};

        PeftModel straight = fresh(ResumeRun.METHOD, manager);
        Trainer.Result whole = new Trainer(straight, train(common), 0).train(run("straight"), manager);
        assertEquals(20, whole.steps(), "20 steps of 8 rows span several epochs of 48 rows");

        // the same run stopped after step 10, as if preempted
        String checkpoint;
        try (NDManager first = NDManager.newBaseManager()) {
            PeftModel part = fresh(ResumeRun.METHOD, first);
            checkpoint = new Trainer(part, train(common), 0).train(run("resumed").stoppingAfter(10), first).checkpoint();
        }
        assertTrue(checkpoint.endsWith("/checkpoint-10"), checkpoint);
        assertTrue(Files.exists(local(checkpoint).resolve("_SUCCESS")), checkpoint);

        // ... and resumed by a new JVM
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                ResumeRun.class.getName(), modelDir.toString(), dir.resolve("data").toString(),
                dir.resolve("resumed").toString(), local(checkpoint).toString()));
        command.addAll(overrides(common));
        Path log = dir.resolve("resume-run.log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(process.waitFor(5, TimeUnit.MINUTES), "the resuming process did not finish");
        assertEquals(0, process.exitValue(), Files.readString(log));

        List<StepMetrics> straightLog = MetricsLog.read(dir.resolve("straight/metrics.jsonl"));
        List<StepMetrics> resumedLog = MetricsLog.read(dir.resolve("resumed/metrics.jsonl"));
        assertEquals(20, resumedLog.size());
        assertEquals(straightLog.stream().map(StepMetrics::loss).toList(), resumedLog.stream().map(StepMetrics::loss).toList(),
                "the same losses step by step, before and after the resume");
        assertEquals(straightLog.stream().map(StepMetrics::rows).toList(), resumedLog.stream().map(StepMetrics::rows).toList(),
                "the row counts carry over the resume");
        assertEquals(Map.of("train", 160L), resumedLog.get(19).rows(), "20 steps of 2 micro-batches of 4 rows");
        LoadedCheckpoint a = TrainingCheckpoints.load(local(whole.checkpoint()), manager);
        LoadedCheckpoint b = TrainingCheckpoints.load(dir.resolve("resumed").resolve(local(whole.checkpoint()).getFileName()),
                manager);
        double parameters = maxDifference(values(a.model()), values(b.model()));
        double optimizer = maxDifference(values(a.optimizer()), values(b.optimizer()));
        System.out.println("20 steps straight vs 10 + new process + 10: max difference in parameters " + parameters
                + ", in optimizer state " + optimizer);
        assertEquals(0.0, parameters, 1e-6);
        assertEquals(0.0, optimizer, 1e-6);
        assertEquals(a.state().epoch(), b.state().epoch());
        assertEquals(a.state().epochPosition(), b.state().epochPosition(), "the same place in the same data order");
    }


    @Test
    void aNanLossStopsTheRunNamingTheStepAndTheLastGoodCheckpoint() {
        PeftModel model = fresh(new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager);
        TrainConfig twoSteps = train("train.max_steps=2", "train.save_steps=1", "train.per_device_train_batch_size=4");
        Trainer.Result first = new Trainer(model, twoSteps, 0).train(run("run"), manager);
        // a frozen weight goes bad: the next forward pass gives NaN
        model.weights().get("model.norm.weight").muli(Float.NaN);

        TrainConfig more = train("train.max_steps=4", "train.save_steps=1", "train.per_device_train_batch_size=4");
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                () -> new Trainer(model, more, 0).train(run(data, "run", Optional.of(first.checkpoint())), manager));
        assertEquals("step 3: the loss is NaN; the last good checkpoint is " + first.checkpoint(), e.getMessage());
        assertTrue(Files.exists(local(first.checkpoint()).resolve("_SUCCESS")));
    }

    @Test
    void earlyStoppingEndsTheRunAfterPatienceEvaluationsWithoutANewBest() {
        List<TokenizedRow> held = new ArrayList<>();
        Random random = new Random(9);
        for (int i = 0; i < 8; i++) {
            held.add(new TokenizedRow(random.longs(6, 1, 61).toArray(), null, null, null, null));
        }
        Configuration conf = new Configuration();
        TokenizedParquet.write(conf, dir.resolve("validation/part-0.parquet").toString(), held, 4096);
        TrainingData validation = TrainingData.open(conf, dir.resolve("validation").toString());

        // a learning rate so small that the validation loss cannot improve: the rule alone decides when to stop
        PeftModel frozenInPractice = fresh(new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager);
        Trainer.Result stopped = new Trainer(frozenInPractice,
                train("train.max_steps=20", "train.learning_rate=1e-30", "train.early_stopping_patience=2",
                        "train.per_device_train_batch_size=4"), 0)
                .withValidation(List.of(new TrainingTask("held", validation, LM)), eval("eval.eval_steps=2"))
                .train(run("es"), manager);
        assertTrue(stopped.stoppedEarly());
        assertEquals(6, stopped.steps(), "evaluations at steps 2 (best), 4 and 6 (no new best, patience 2)");
        assertTrue(Files.exists(local(stopped.checkpoint()).resolve("_SUCCESS")));
        assertEquals(6, TrainingCheckpoints.load(local(stopped.checkpoint()), manager).state().globalStep());

        // resumed from the checkpoint saved when it stopped (a retried stage, a rerun), the run stays stopped
        Trainer.Result again = new Trainer(frozenInPractice,
                train("train.max_steps=20", "train.learning_rate=1e-30", "train.early_stopping_patience=2",
                        "train.per_device_train_batch_size=4"), 0)
                .withValidation(List.of(new TrainingTask("held", validation, LM)), eval("eval.eval_steps=2"))
                .train(run(data, "es", Optional.of(stopped.checkpoint())), manager);
        assertTrue(again.stoppedEarly());
        assertEquals(6, again.steps());
        assertEquals(stopped.checkpoint(), again.checkpoint());

        // validated on the rows it learns from, the loss keeps improving and the run goes the distance
        PeftModel learning = fresh(new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager);
        Trainer.Result whole = new Trainer(learning,
                train("train.max_steps=6", "train.learning_rate=1e-2", "train.early_stopping_patience=2",
                        "train.per_device_train_batch_size=4"), 0)
                .withValidation(List.of(new TrainingTask("train", data, LM)), eval("eval.eval_steps=2"))
                .train(run("learns"), manager);
        assertFalse(whole.stoppedEarly());
        assertTrue(Double.isFinite(whole.bestValidationLoss()));
    }

    @Test
    void metricsAreWrittenPerLoggedStep() {
        PeftModel model = fresh(new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager);
        new Trainer(model, train("train.max_steps=5", "train.per_device_train_batch_size=4"), 0).train(run("m"), manager);
        List<StepMetrics> logged = MetricsLog.read(dir.resolve("m/metrics.jsonl"));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), logged.stream().map(StepMetrics::step).toList());
        assertTrue(logged.stream().allMatch(m -> Double.isFinite(m.loss()) && m.tokensPerSecond() > 0 && m.gradNorm() > 0));
        assertEquals(0.0, logged.get(0).learningRate(), "linear warm-up starts at 0, as Hugging Face's does");
        assertTrue(logged.get(2).learningRate() > 0);
    }
}
