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
}
