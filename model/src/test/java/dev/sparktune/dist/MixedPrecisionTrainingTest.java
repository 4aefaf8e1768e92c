package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.InterleavedShards;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepMetrics;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code train.fp16}: a tiny Llama, fully fine-tuned, computing in float16 with float32 master weights and dynamic
 * loss scaling, on one rank and on in-process ranks (threads of this JVM, each with its own replica). N ranks read
 * their shares of the rows with micro-batches of 8 / N rows; one rank reads the same global order with micro-batches
 * of 8 ({@link InterleavedShards}).
 */
class MixedPrecisionTrainingTest {
    @TempDir
    static Path dir;

    private static Path modelDir;
    private static TrainingData data;

    @BeforeAll
    static void writeModelAndData() {
        modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        Configuration conf = new Configuration();
        for (int g = 0; g < 8; g++) {
            TokenizedParquet.write(conf, dir.resolve("data/part-%05d.parquet".formatted(g)).toString(),
                    rows.subList(8 * g, 8 * g + 8), 1 << 16);
        }
        data = TrainingData.open(conf, dir.resolve("data").toString());
    }

    /** What a run left: rank 0's trainable tensors (widened to float64) and its metrics. */
    private record Outcome(SortedMap<String, double[]> tensors, List<StepMetrics> metrics) {
        double loss(int step) {
            return metrics.get(step - 1).loss();
        }
    }

    /** A run of {@code ranks} ranks on a {@code dtype} replica each, after checking every rank ended with the same bits. */
    private static Outcome train(int ranks, int stage, DataType dtype, Path out, long stopAfter, Optional<Path> resume,
                                 String... more) throws Exception {
        List<String> overrides = new ArrayList<>(List.of("train.learning_rate=2e-3", "train.weight_decay=0.01",
                "train.warmup_steps=2", "train.lr_scheduler_type=linear", "train.max_grad_norm=1.0",
                "train.gradient_accumulation_steps=2", "train.per_device_train_batch_size=" + 8 / ranks,
                "train.max_steps=8", "train.save_steps=100", "train.logging_steps=1", "dist.world_size=" + ranks,
                "dist.zero_stage=" + stage, "dist.reduce_bucket_size=700"));
        overrides.addAll(List.of(more));
        JobConfig job = ConfigLoader.parse("", "test", overrides).job();
        Objective objective = new Objective.CausalLm(dtype == DataType.FLOAT64 ? CausalLmLoss.FLOAT64 : CausalLmLoss.FLOAT32);
        TrainingData rows = ranks == 1 ? new InterleavedShards(data, job.train().seed(), 2, 4) : data;
        List<TrainingTask> tasks = List.of(new TrainingTask("train", rows, objective));
        List<Collective> group = InProcessCollective.group(ranks);
        ExecutorService threads = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<SortedMap<String, double[]>>> results = new ArrayList<>();
            for (Collective collective : group) {
                results.add(threads.submit(() -> {
                    try (NDManager manager = NDManager.newBaseManager()) {
                        PeftModel model = PeftModel.apply(ModelDirectory.open(modelDir).load(manager, dtype),
                                new FullFineTuning(), manager, 7);
                        Trainer.Run run = new Trainer.Run(tasks, TaskMix.concat(), OutputFolder.local(out),
                                resume.map(p -> OutputFolder.local(p).location()));
                        new Trainer(model, job.train(), 0).withDataParallel(collective, job.dist())
                                .train(stopAfter == Long.MAX_VALUE ? run : run.stoppingAfter(stopAfter), manager);
                        return widened(model);
                    } finally {
                        collective.close();
                    }
                }));
            }
            List<SortedMap<String, double[]>> all = new ArrayList<>();
            for (Future<SortedMap<String, double[]>> f : results) {
                all.add(f.get());
            }
            for (int r = 1; r < ranks; r++) {
                assertEquals(0.0, relativeDifference(all.get(0), all.get(r)), "rank " + r + " differs from rank 0");
            }
            return new Outcome(all.get(0), MetricsLog.read(out.resolve(MetricsLog.FILE)));
        } finally {
            threads.shutdownNow();
        }
    }

    private static SortedMap<String, double[]> widened(PeftModel model) {
        SortedMap<String, double[]> values = new TreeMap<>();
        model.trainableTensors().forEach((k, v) -> values.put(k, v.toType(DataType.FLOAT64, false).toDoubleArray()));
        return values;
    }

    /** The untrained model's tensors in {@code dtype}, widened. */
    private static SortedMap<String, double[]> initial(DataType dtype) {
        try (NDManager manager = NDManager.newBaseManager()) {
            return widened(PeftModel.apply(ModelDirectory.open(modelDir).load(manager, dtype), new FullFineTuning(),
                    manager, 7));
        }
    }

    /** The largest, over tensors, of ||a - b|| / ||a||: each tensor's relative difference as a whole. */
    private static double relativeDifference(SortedMap<String, double[]> a, SortedMap<String, double[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double worst = 0;
        for (String k : a.keySet()) {
            double difference = 0;
            double norm = 0;
            for (int i = 0; i < a.get(k).length; i++) {
                double d = a.get(k)[i] - b.get(k)[i];
                difference += d * d;
                norm += a.get(k)[i] * a.get(k)[i];
            }
            worst = Math.max(worst, Math.sqrt(difference) / Math.max(Math.sqrt(norm), 1e-300));
        }
        return worst;
    }

    private static JsonObject metadata(Path checkpoint) throws Exception {
        return JsonParser.parseString(Files.readString(checkpoint.resolve("trainer_state.json"))).getAsJsonObject()
                .getAsJsonObject("metadata");
    }

    @Test
    void theFloat16LossCurveFollowsTheFloat32One() throws Exception {
        Outcome fp32 = train(1, 0, DataType.FLOAT32, dir.resolve("curve-fp32"), Long.MAX_VALUE, Optional.empty());
        Outcome fp16 = train(1, 0, DataType.FLOAT16, dir.resolve("curve-fp16"), Long.MAX_VALUE, Optional.empty(),
                "train.fp16=true");
        double worst = 0;
        for (int step = 1; step <= 8; step++) {
            worst = Math.max(worst, Math.abs(fp16.loss(step) - fp32.loss(step)));
            assertTrue(Double.isFinite(fp16.metrics().get(step - 1).gradNorm()), "no step skipped at 2^16");
        }
        System.out.printf("fp16 vs float32 loss over 8 steps: max |difference| %.3g (loss %.4f -> %.4f)%n", worst,
                fp32.loss(1), fp32.loss(8));
        assertTrue(fp32.loss(8) < fp32.loss(1) - 0.05, "the float32 run learns: " + fp32.loss(1) + " -> " + fp32.loss(8));
        // float16 rounds each logit to 2^-11 relative (4.9e-4); at a loss near 4.6 that is a few 1e-4 (measured 4.0e-4)
        assertTrue(worst < 2e-3, "max loss difference " + worst);
    }

    /**
     * fp16 with activation checkpointing: each block recomputed in float16 in backward gives the gradients of the
     * forward that kept its activations, so two checkpointed ranks train as two plain ones, to the bit.
     */
    @Test
    void checkpointedFp16RanksTrainAsPlainFp16Ranks() throws Exception {
        SortedMap<String, double[]> plain = train(2, 1, DataType.FLOAT16, dir.resolve("fp16-plain"), Long.MAX_VALUE,
                Optional.empty(), "train.fp16=true").tensors();
        SortedMap<String, double[]> checkpointed = train(2, 1, DataType.FLOAT16, dir.resolve("fp16-checkpointed"),
                Long.MAX_VALUE, Optional.empty(), "train.fp16=true", "train.gradient_checkpointing=true").tensors();
        // the recomputation runs the same float16 operations on the same inputs: bit for bit (measured)
        assertEquals(0.0, relativeDifference(plain, checkpointed), "checkpointed vs plain fp16 after 8 steps");
        assertTrue(relativeDifference(initial(DataType.FLOAT16), plain) > 1e-3, "the runs trained");
    }

    /**
     * Loss scaling alone is exact: a float64 model needs no masters, so with fp16 on the only change is the loss times
     * 2^16 before backward and the gradients times 2^-16 after, both exact in binary floating point.
     */
    @ParameterizedTest(name = "{0} ranks, ZeRO stage {1}")
    @CsvSource({"1, 0", "2, 1"})
    void lossScalingOnAFloat64ModelChangesNoBit(int ranks, int stage) throws Exception {
        Outcome plain = train(ranks, stage, DataType.FLOAT64, dir.resolve("exact-plain-" + ranks), Long.MAX_VALUE,
                Optional.empty());
        Outcome scaled = train(ranks, stage, DataType.FLOAT64, dir.resolve("exact-scaled-" + ranks), Long.MAX_VALUE,
                Optional.empty(), "train.fp16=true");
        assertEquals(0.0, relativeDifference(plain.tensors(), scaled.tensors()));
        for (int step = 1; step <= 8; step++) {
            assertEquals(plain.metrics().get(step - 1).gradNorm(), scaled.metrics().get(step - 1).gradNorm(),
                    "gradient norm at step " + step);
        }
        assertTrue(relativeDifference(initial(DataType.FLOAT64), plain.tensors()) > 1e-3, "the runs trained");
    }

    /**
     * Two ranks, each keeping the float32 masters of its shard (ZeRO 1 and 2) or all of them (ZeRO 0), against one
     * rank over the same global batches. The stages reduce the same float32 sums and update the same masters, so they
     * agree to the bit. Against one rank the forward differs: 4-row float16 matmuls round otherwise than 8-row ones,
     * and the float32 sums add in another order, so gradients differ at float16 rounding (2^-11) and Adam turns that
     * into small differences of the updates; after 8 steps at lr 2e-3 the weights (rounded to float16 themselves)
     * agree within 1e-3 of their norm, about two float16 roundings.
     */
    @Test
    void twoRanksKeepingShardedMastersTrainAsOneRank() throws Exception {
        Outcome one = train(1, 0, DataType.FLOAT16, dir.resolve("masters-one"), Long.MAX_VALUE, Optional.empty(),
                "train.fp16=true");
        SortedMap<String, double[]> stage0 = train(2, 0, DataType.FLOAT16, dir.resolve("masters-two-0"), Long.MAX_VALUE,
                Optional.empty(), "train.fp16=true").tensors();
        for (int stage = 1; stage <= 2; stage++) {
            SortedMap<String, double[]> sharded = train(2, stage, DataType.FLOAT16, dir.resolve("masters-two-" + stage),
                    Long.MAX_VALUE, Optional.empty(), "train.fp16=true").tensors();
            assertEquals(0.0, relativeDifference(stage0, sharded), "ZeRO " + stage + " vs 0 on two ranks");
        }
        double difference = relativeDifference(one.tensors(), stage0);
        double moved = relativeDifference(initial(DataType.FLOAT16), one.tensors());
        System.out.printf("fp16, 2 ranks vs 1: max relative difference %.3g (training moved the weights by %.3g)%n",
                difference, moved);
        assertTrue(difference < 1e-3, "relative difference " + difference);
        assertTrue(moved > 20 * difference, "the difference is small beside what training changed: " + moved);
    }

    /**
     * A genuine overflow: the loss scale starts at 2^24, so the float16 gradients of the first step are infinite. That
     * step is skipped (weights unchanged, the scale halved, the schedule held), and the run goes on until the scale is
     * small enough, then trains.
     */
    @Test
    void anOverflowingStepIsSkippedTheScaleHalvesAndTrainingGoesOn() throws Exception {
        Path out = dir.resolve("overflow");
        Outcome first = train(1, 0, DataType.FLOAT16, out, 1, Optional.empty(), "train.fp16=true",
                "train.fp16_initial_scale_power=24");
        assertTrue(Double.isNaN(first.metrics().get(0).gradNorm()), "step 1 overflowed");
        assertEquals(0.0, relativeDifference(initial(DataType.FLOAT16), first.tensors()), "a skipped step changes nothing");
        JsonObject saved = metadata(out.resolve("checkpoint-1"));
        assertEquals(Math.scalb(1.0, 23), saved.get("loss_scale").getAsDouble());
        assertEquals(1, saved.get("loss_scale_skipped_steps").getAsLong());

        Outcome whole = train(1, 0, DataType.FLOAT16, dir.resolve("overflow-whole"), Long.MAX_VALUE, Optional.empty(),
                "train.fp16=true", "train.fp16_initial_scale_power=24", "train.max_steps=16");
        List<StepMetrics> steps = whole.metrics();
        int skipped = 0;
        while (Double.isNaN(steps.get(skipped).gradNorm())) {
            assertEquals(0.0, steps.get(skipped).learningRate(), "a skipped step does not advance the warmup");
            skipped++;
        }
        System.out.printf("loss scale 2^24: the first %d steps skipped, then %.4f -> %.4f%n", skipped,
                steps.get(skipped).loss(), steps.get(15).loss());
        assertTrue(skipped >= 1 && skipped < 10, skipped + " steps skipped");
        assertEquals(steps.get(0).learningRate(), steps.get(skipped).learningRate(), "the first update is warmup step 0");
        assertTrue(steps.get(skipped + 1).learningRate() > 0, "then the schedule advances");
        for (StepMetrics m : steps.subList(skipped, 16)) {
            assertTrue(Double.isFinite(m.gradNorm()), "no overflow after the scale came down, step " + m.step());
        }
        assertTrue(steps.get(15).loss() < steps.get(skipped).loss() - 0.05, "the later steps train");
    }

    /**
     * A resume in the middle of an fp16 run on two ranks at ZeRO 2 continues it to the bit: the checkpoint holds each
     * shard's float32 masters, which had been updated, and the loss scale, which had been halved (2^20 overflows at
     * first).
     */
    @Test
    void anFp16ResumeContinuesTheUninterruptedRunExactly() throws Exception {
        String[] fp16 = {"train.fp16=true", "train.fp16_initial_scale_power=20"};
        Path saved = dir.resolve("resumed");
        train(2, 2, DataType.FLOAT16, saved, 4, Optional.empty(), fp16);
        JsonObject state = metadata(saved.resolve("checkpoint-4"));
        assertTrue(state.get("loss_scale").getAsDouble() < Math.scalb(1.0, 20), "the scale came down before the save");
        assertTrue(state.get("loss_scale_skipped_steps").getAsLong() < 4, "and some steps before it updated");
        Outcome resumed = train(2, 2, DataType.FLOAT16, saved, Long.MAX_VALUE, Optional.of(saved.resolve("checkpoint-4")),
                fp16);
        Outcome straight = train(2, 2, DataType.FLOAT16, dir.resolve("straight"), Long.MAX_VALUE, Optional.empty(), fp16);
        assertEquals(0.0, relativeDifference(straight.tensors(), resumed.tensors()), "resumed at step 4 vs uninterrupted");
        assertEquals(straight.loss(8), resumed.loss(8));
    }

    /**
     * Checkpoints cross the fp16 line both ways: an fp16 run resumes from a float32 run's checkpoint (no masters, no
     * scaler state: the masters come from the weights, the scale starts afresh; two ranks, ZeRO 1) and a float32 run
     * from an fp16 one (whose masters it ignores; one rank, where the state is loaded whole); both go on training.
     */
    @Test
    void checkpointsWithoutMastersOrScalerStateResumeInFp16AndBack() throws Exception {
        Path plain = dir.resolve("from-float32");
        train(2, 1, DataType.FLOAT32, plain, 4, Optional.empty());
        Outcome fp16 = train(2, 1, DataType.FLOAT16, plain, Long.MAX_VALUE, Optional.of(plain.resolve("checkpoint-4")),
                "train.fp16=true");
        Path mixed = dir.resolve("from-fp16");
        train(1, 0, DataType.FLOAT16, mixed, 4, Optional.empty(), "train.fp16=true");
        Outcome float32 = train(1, 0, DataType.FLOAT32, mixed, Long.MAX_VALUE, Optional.of(mixed.resolve("checkpoint-4")));
        for (Outcome resumed : List.of(fp16, float32)) {
            List<StepMetrics> after = resumed.metrics().subList(4, 8);
            after.forEach(m -> assertTrue(Double.isFinite(m.gradNorm()), "step " + m.step() + " updated"));
            assertTrue(after.get(3).loss() < resumed.loss(1) - 0.05, "the resumed run trains on: " + after);
        }
    }
}
