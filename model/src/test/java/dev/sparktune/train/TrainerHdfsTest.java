package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.testing.MiniHdfs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run whose data, checkpoints and metrics live on a real HDFS (an in-process
 * MiniDFSCluster): stopped part-way, then resumed from its hdfs:// checkpoint, it ends exactly
 * where the uninterrupted run ends.
 */
@Tag("integration")
class TrainerHdfsTest {
    @RegisterExtension
    static final MiniHdfs hdfs = new MiniHdfs();

    @TempDir
    Path dir;

    private static final String[] COMMON = {"train.logging_steps=1", "train.warmup_steps=2",
        "train.lr_scheduler_type=cosine", "train.weight_decay=0.01", "train.optim=adamw", "train.learning_rate=0.01",
        "train.per_device_train_batch_size=4", "train.gradient_accumulation_steps=2", "train.save_steps=4",
        "train.max_steps=8"};

    private static TrainConfig config() {
        return ConfigLoader.parse("", "hdfs test", List.of(COMMON)).job().train();
    }

    private static PeftModel fresh(Path modelDir, NDManager manager) {
        PretrainedModel base = ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32);
        return PeftModel.apply(base, ResumeRun.METHOD, manager, ResumeRun.SEED);
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
            assertEquals(a.get(k).length, b.get(k).length, k);
            for (int i = 0; i < a.get(k).length; i++) {
                worst = Math.max(worst, Math.abs(a.get(k)[i] - b.get(k)[i]));
            }
        }
        return worst;
    }

    private static Trainer.Run run(TrainingData data, OutputFolder output, Optional<String> resumeFrom) {
        return new Trainer.Run(List.of(new TrainingTask("train", data, new Objective.CausalLm(CausalLmLoss.FLOAT32))),
                TaskMix.concat(), output, resumeFrom);
    }

    @Test
    void aRunStoppedAndResumedOnHdfsEndsAsTheUninterruptedRun() {
        Configuration conf = hdfs.conf();
        Path modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        String dataDir = hdfs.uri("/data/tokenized");
        TokenizedParquet.write(conf, dataDir + "/part-0.parquet", rows, 512);
        TrainingData data = TrainingData.open(conf, dataDir);
        OutputFolder straightOut = new OutputFolder(conf, hdfs.uri("/runs/straight"));
        OutputFolder resumedOut = new OutputFolder(conf, hdfs.uri("/runs/resumed"));

        Trainer.Result whole;
        try (NDManager manager = NDManager.newBaseManager()) {
            whole = new Trainer(fresh(modelDir, manager), config(), 0).train(run(data, straightOut, Optional.empty()),
                    manager);
        }
        assertEquals(8, whole.steps(), "8 steps of 8 rows cross the end of the 48-row epoch");
        assertEquals(straightOut.location() + "/checkpoint-8", whole.checkpoint());

        // stopped after step 5, as if preempted; then a new model (as in a new job) resumes from HDFS
        String checkpoint;
        try (NDManager first = NDManager.newBaseManager()) {
            checkpoint = new Trainer(fresh(modelDir, first), config(), 0)
                    .train(run(data, resumedOut, Optional.empty()).stoppingAfter(5), first).checkpoint();
        }
        assertEquals(resumedOut.location() + "/checkpoint-5", checkpoint);
        Trainer.Result resumed;
        try (NDManager second = NDManager.newBaseManager()) {
            resumed = new Trainer(fresh(modelDir, second), config(), 0).train(run(data, resumedOut, Optional.of(checkpoint)),
                    second);
        }
        assertEquals(8, resumed.steps());
        assertEquals(resumedOut.location() + "/checkpoint-8", resumed.checkpoint());

        try (NDManager manager = NDManager.newBaseManager()) {
            LoadedCheckpoint a = TrainingCheckpoints.load(conf, whole.checkpoint(), manager);
            LoadedCheckpoint b = TrainingCheckpoints.load(conf, resumed.checkpoint(), manager);
            double parameters = maxDifference(values(a.model()), values(b.model()));
            double optimizer = maxDifference(values(a.optimizer()), values(b.optimizer()));
            System.out.println("on HDFS, 8 steps straight vs 5 + resume + 3: max difference in parameters " + parameters
                    + ", in optimizer state " + optimizer);
            assertEquals(0.0, parameters);
            assertEquals(0.0, optimizer);
            assertEquals(a.state().epoch(), b.state().epoch());
            assertEquals(a.state().epochPosition(), b.state().epochPosition());
        }

        List<StepMetrics> straightLog = MetricsLog.read(conf, straightOut.resolve("metrics.jsonl"));
        List<StepMetrics> resumedLog = MetricsLog.read(conf, resumedOut.resolve("metrics.jsonl"));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L), resumedLog.stream().map(StepMetrics::step).toList(),
                "each step once after the resume");
        assertEquals(straightLog.stream().map(StepMetrics::loss).toList(), resumedLog.stream().map(StepMetrics::loss).toList());
        assertTrue(resumedLog.stream().allMatch(m -> Double.isFinite(m.loss())));
        assertEquals(List.of(resumedOut.resolve("checkpoint-4"), resumedOut.resolve("checkpoint-5"),
                resumedOut.resolve("checkpoint-8")), new TrainingCheckpoints(conf, resumedOut.location(), 3).complete());
    }
}
