package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.BertConfig;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.KvCache;
import dev.sparktune.nn.SeededDropout;
import dev.sparktune.nn.ThreadGradients;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.peft.PrefixTuning;
import dev.sparktune.peft.PromptTuning;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * train.gradient_checkpointing: one step's gradients with the blocks checkpointed equal those of the plain backward,
 * and a few training steps the plain run's losses and parameters (float64, 1e-12 relative), with dropout in the blocks
 * so the recomputation must draw the same masks.
 */
class GradientCheckpointingTest {
    private static final double TOLERANCE = 1e-12;
    private NDManager manager;

    @TempDir
    Path dir;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        SeededDropout.clear();
        manager.close();
    }

    /** Qwen2 (biases, grouped-query attention) with attention dropout; LoRA adds its own dropout. */
    static Llama llama(NDManager m) {
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("qwen2", 4, 2, false, "\"attention_dropout\": 0.2"));
        return new Llama(config, TinyModels.randomWeights(config.parameterShapes(), m, DataType.FLOAT64, 1));
    }

    /** BERT with its default hidden and attention dropout of 0.1, and a classification head. */
    static Bert bert(NDManager m) {
        BertConfig config = TinyModels.bertConfig(TinyModels.bertJson());
        return new Bert(config, TinyModels.randomWeights(config.parameterShapes(""), m, DataType.FLOAT64, 2))
                .withClassifier(3, m, 3);
    }

    static Stream<Arguments> methods() {
        List<Arguments> out = new ArrayList<>();
        for (String family : List.of("llama", "bert")) {
            out.add(Arguments.of(family, new FullFineTuning()));
            out.add(Arguments.of(family, new Lora(4, 8, 0.1, List.of("all"), false, false, List.of())));
            out.add(Arguments.of(family, new PrefixTuning(3, true, 16)));
            out.add(Arguments.of(family, new PromptTuning(3, null, null)));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("methods")
    void oneStepsGradientsEqualThePlainBackward(String family, Method method) {
        Step plain = step(family, method, false);
        Step checkpointed = step(family, method, true);
        assertEquals(plain.loss(), checkpointed.loss(), Math.abs(plain.loss()) * TOLERANCE);
        assertEquals(plain.gradients().keySet(), checkpointed.gradients().keySet());
        plain.gradients().forEach((name, expected) -> {
            assertTrue(norm(expected) > 0, name + " has no gradient: the comparison would prove nothing");
            double difference = relativeDifference(expected, checkpointed.gradients().get(name));
            assertTrue(difference <= TOLERANCE, name + ": relative difference " + difference);
        });
    }

    @Test
    void theMasksOfTheTestsAreDrawnFromTheSeed() {
        // the premise of the test above: dropout is on, so a recomputation with other masks would differ
        assertNotEquals(step("llama", new FullFineTuning(), false, 7).loss(),
                step("llama", new FullFineTuning(), false, 8).loss());
        assertNotEquals(step("bert", new FullFineTuning(), false, 7).loss(),
                step("bert", new FullFineTuning(), false, 8).loss());
    }

    @Test
    void dropoutFromLibtorchsGeneratorIsRefused() {
        PeftModel model = PeftModel.apply(llama(manager), new FullFineTuning(), manager, 1);
        model.requireGradients();
        PretrainedModel training = model.model(true).withBlocks(new BlockCheckpoints());
        try (NDManager step = manager.newSubManager(); ThreadGradients ignored = new ThreadGradients()) {
            // no SeededDropout.seed on this thread: the masks come from libtorch and cannot be drawn again
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> objective("llama").loss(training, batch("llama", step), step));
            assertTrue(e.getMessage().startsWith("train.gradient_checkpointing recomputes each block"), e.getMessage());
            assertTrue(e.getMessage().contains("model.device: cpu"), e.getMessage());
        }
    }

    @Test
    void aForwardWithoutGradientsKeepsNothingToBackPropagate() {
        PeftModel model = PeftModel.apply(llama(manager), new FullFineTuning(), manager, 1);
        PretrainedModel checkpointed = model.model(false).withBlocks(new BlockCheckpoints());
        try (NDManager step = manager.newSubManager()) {
            TrainingBatch batch = batch("llama", step);
            double plain = objective("llama").loss(model.model(false), batch, step).sum().getDouble();
            // an evaluation: no backward follows, so a second forward must not find the first one pending
            for (int i = 0; i < 2; i++) {
                assertEquals(plain, objective("llama").loss(checkpointed, batch, step).sum().getDouble(), 0.0);
            }
        }
    }

    /**
     * A KV cache is filled by running each block once: refused while training (checkpointed blocks run twice), and
     * filled as a plain model fills it without gradients, where checkpointed blocks run once (evaluation, generation).
     */
    @Test
    void aKvCacheIsRefusedInTrainingAndFilledWithoutGradients() {
        Llama plain = llama(manager);
        Llama checkpointed = plain.withBlocks(new BlockCheckpoints());
        boolean gradMode = JniUtils.isGradMode();
        try (NDManager step = manager.newSubManager()) {
            TrainingBatch batch = batch("llama", step);
            JniUtils.setGradMode(true);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> checkpointed.logits(
                    batch.inputIds(), batch.positions(), batch.mask(), new KvCache(step, 2)));
            assertTrue(e.getMessage().contains("train.gradient_checkpointing"), e.getMessage());

            JniUtils.setGradMode(false);
            double[] expected = plain.logits(batch.inputIds(), batch.positions(), batch.mask(), new KvCache(step, 2))
                    .toType(DataType.FLOAT64, false).toDoubleArray();
            double[] actual = checkpointed.logits(batch.inputIds(), batch.positions(), batch.mask(),
                    new KvCache(step, 2)).toType(DataType.FLOAT64, false).toDoubleArray();
            assertArrayEquals(expected, actual, 0.0);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("trainedMethods")
    void aTrainingRunEqualsThePlainRun(String family, Method method) {
        Trained plain = train(family, method, false);
        Trained checkpointed = train(family, method, true);
        assertEquals(3, plain.log().size());
        for (int i = 0; i < plain.log().size(); i++) {
            StepMetrics expected = plain.log().get(i);
            StepMetrics actual = checkpointed.log().get(i);
            assertEquals(expected.loss(), actual.loss(), Math.abs(expected.loss()) * TOLERANCE, "loss of step " + (i + 1));
            assertEquals(expected.gradNorm(), actual.gradNorm(), expected.gradNorm() * TOLERANCE, "grad norm of step " + (i + 1));
        }
        plain.parameters().forEach((name, expected) -> {
            double difference = relativeDifference(expected, checkpointed.parameters().get(name));
            assertTrue(difference <= TOLERANCE, name + ": relative difference " + difference);
        });
    }

    static Stream<Arguments> trainedMethods() {
        return Stream.of(Arguments.of("llama", new Lora(4, 8, 0.1, List.of("all"), false, false, List.of())),
                Arguments.of("bert", new FullFineTuning()));
    }

    private record Trained(List<StepMetrics> log, SortedMap<String, double[]> parameters) {
    }

    /** Three AdamW steps of two micro-batches each, from the same model and data. */
    private Trained train(String family, Method method, boolean checkpointed) {
        Path out = dir.resolve(family + "-" + checkpointed);
        TrainConfig config = ConfigLoader.parse("", "test", List.of("train.max_steps=3", "train.logging_steps=1",
                "train.per_device_train_batch_size=3", "train.gradient_accumulation_steps=2", "train.learning_rate=1e-2",
                "train.gradient_checkpointing=" + checkpointed)).job().train();
        try (NDManager m = manager.newSubManager()) {
            PretrainedModel base = family.equals("llama") ? llama(m) : bert(m);
            PeftModel model = PeftModel.apply(base, method, m, 11);
            Trainer.Run run = new Trainer.Run(List.of(new TrainingTask("train", data(family, out), objective(family))),
                    TaskMix.concat(), OutputFolder.local(out.resolve("run")), Optional.empty());
            new Trainer(model, config, 0).train(run, m);
            SortedMap<String, double[]> parameters = new TreeMap<>();
            model.trainableTensors().forEach((name, t) -> parameters.put(name, t.toDoubleArray()));
            return new Trained(MetricsLog.read(out.resolve("run/metrics.jsonl")), parameters);
        }
    }

    /** 24 rows of 3 to 9 tokens: next-token rows for Llama, 3-class rows for BERT. */
    private static TrainingData data(String family, Path out) {
        Random random = new Random(3);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            long[] ids = random.longs(3 + random.nextInt(7), 1, 50).toArray();
            rows.add(family.equals("llama") ? new TokenizedRow(ids, ids, null, null, null)
                    : new TokenizedRow(ids, null, null, (long) (i % 3), null));
        }
        Configuration conf = new Configuration();
        String folder = out.resolve("data").toString();
        TokenizedParquet.write(conf, folder + "/part-0.parquet", rows, 512);
        return TrainingData.open(conf, folder);
    }

    private record Step(double loss, SortedMap<String, double[]> gradients) {
    }

    private Step step(String family, Method method, boolean checkpointed) {
        return step(family, method, checkpointed, 7);
    }

    /** One micro-batch's loss and the gradients of every trainable tensor, on a fresh model. */
    private Step step(String family, Method method, boolean checkpointed, long seed) {
        try (NDManager m = manager.newSubManager()) {
            PretrainedModel base = family.equals("llama") ? llama(m) : bert(m);
            PeftModel model = PeftModel.apply(base, method, m, 11);
            nudgeZeros(model);
            model.requireGradients();
            BlockCheckpoints blocks = new BlockCheckpoints();
            PretrainedModel training = checkpointed ? model.model(true).withBlocks(blocks) : model.model(true);
            SeededDropout.seed(seed);
            try (NDManager step = m.newSubManager(); ThreadGradients collector = new ThreadGradients()) {
                Objective.Loss l = objective(family).loss(training, batch(family, step), step);
                double loss = l.sum().getDouble();
                collector.backward(l.sum());
                if (checkpointed) {
                    blocks.backward();
                }
                SortedMap<String, double[]> gradients = new TreeMap<>();
                for (Map.Entry<String, NDArray> e : model.trainableTensors().entrySet()) {
                    NDArray gradient = e.getValue().getGradient();
                    assertEquals(DataType.FLOAT64, gradient.getDataType(), e.getKey() + " has no gradient");
                    gradients.put(e.getKey(), gradient.toDoubleArray());
                }
                return new Step(loss, gradients);
            } finally {
                SeededDropout.clear();
            }
        }
    }

    /**
     * Zero-initialised trainable tensors (LoRA's B, biases) made random: with B = 0, A's gradient is zero, and the
     * comparison would not see it.
     */
    private static void nudgeZeros(PeftModel model) {
        Random random = new Random(5);
        for (NDArray t : model.trainableTensors().values()) {
            if (t.abs().max().getDouble() == 0) {
                double[] values = random.doubles(t.getShape().size(), -0.1, 0.1).toArray();
                t.addi(t.getManager().create(values, t.getShape()));
            }
        }
    }

    static Objective objective(String family) {
        return family.equals("llama") ? new Objective.CausalLm(CausalLmLoss.FLOAT64)
                : new Objective.Classification(ClassificationLoss.PLAIN);
    }

    /** Two rows of different lengths, so padding is masked. */
    static TrainingBatch batch(String family, NDManager m) {
        long[] a = {3, 14, 15, 9, 26, 5, 8};
        long[] b = {27, 18, 28, 4};
        List<TokenizedRow> rows = family.equals("llama")
                ? List.of(new TokenizedRow(a, a, null, null, null),
                        new TokenizedRow(b, new long[] {-100, -100, 28, 4}, null, null, null))
                : List.of(new TokenizedRow(a, null, null, 2L, null),
                        new TokenizedRow(b, null, null, 0L, null));
        return TrainingBatch.of(rows, 0, m);
    }

    /** |actual - expected| / |expected|, in the Euclidean norm. */
    private static double relativeDifference(double[] expected, double[] actual) {
        double[] difference = new double[expected.length];
        for (int i = 0; i < expected.length; i++) {
            difference[i] = actual[i] - expected[i];
        }
        return norm(difference) / norm(expected);
    }

    private static double norm(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x * x;
        }
        return Math.sqrt(sum);
    }
}
