package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.testing.SlowCreateFileSystem;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.LoadedCheckpoint;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rank 0 writes checkpoints to a real but slow file system ({@link SlowCreateFileSystem}: the local disk, sleeping
 * 4 s in the create of {@code trainer_state.json}) while the ranks talk over the TCP ring with a 3 s collective
 * timeout: the other rank waits for each save at a barrier bounded by {@code dist.checkpoint_timeout_seconds}, so the
 * run trains to its end and its last checkpoint loads.
 */
class SlowCheckpointSaveTest {
    private static final Duration COLLECTIVE_TIMEOUT = Duration.ofSeconds(3);
    private static final long SAVE_DELAY_MS = 4_000;

    @TempDir
    Path dir;

    @Test
    void aSaveSlowerThanTheCollectiveTimeoutDoesNotFailTheRun() throws Exception {
        Path modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        TrainingTask task = new TrainingTask("train", rows(dir.resolve("data")), new Objective.CausalLm(CausalLmLoss.FLOAT32));
        JobConfig job = ConfigLoader.parse("", "test", List.of("train.learning_rate=5e-3", "train.max_steps=4",
                "train.save_steps=2", "train.logging_steps=1", "train.per_device_train_batch_size=2",
                "dist.world_size=2", "dist.collective_timeout_seconds=" + COLLECTIVE_TIMEOUT.toSeconds(),
                "dist.checkpoint_timeout_seconds=120")).job();
        Configuration slow = SlowCreateFileSystem.conf(SAVE_DELAY_MS, TrainingCheckpoints.STATE_FILE);
        OutputFolder output = new OutputFolder(slow, SlowCreateFileSystem.location(dir.resolve("out")));
        long started = System.nanoTime();
        Path probe = dir.resolve("probe");
        HadoopFiles.writeDurably(HadoopFiles.fileSystem(new org.apache.hadoop.fs.Path(output.location()), slow),
                new org.apache.hadoop.fs.Path(SlowCreateFileSystem.location(probe.resolve(TrainingCheckpoints.STATE_FILE))), "{}");
        assertTrue(System.nanoTime() - started > COLLECTIVE_TIMEOUT.toNanos(),
                "the premise: writing the trainer state there outlasts the collective timeout");

        List<Collective> ring = LoopbackRing.open(2, LoopbackRing.options(COLLECTIVE_TIMEOUT));
        List<RankThreads.Outcome<SortedMap<String, float[]>>> outcomes = RankThreads.outcomes(ring, collective -> {
            try (collective; NDManager manager = NDManager.newBaseManager()) {
                PeftModel model = PeftModel.apply(ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32),
                        new Lora(4, 8, 0.0, List.of("q_proj", "v_proj"), false, false, List.of()), manager, 7);
                Trainer.Result result = new Trainer(model, job.train(), 0).withDataParallel(collective, job.dist())
                        .train(new Trainer.Run(List.of(task), TaskMix.concat(), output, Optional.empty()), manager);
                assertEquals(4, result.steps());
                SortedMap<String, float[]> trained = new TreeMap<>();
                model.trainableTensors().forEach((k, v) -> trained.put(k, v.toFloatArray()));
                return trained;
            }
        }, Duration.ofMinutes(3));
        SortedMap<String, float[]> trained = outcomes.get(0).get();
        outcomes.get(1).get();

        TrainingCheckpoints checkpoints = new TrainingCheckpoints(slow, output.location(), 3);
        assertEquals(List.of(output.resolve("checkpoint-2"), output.resolve("checkpoint-4")), checkpoints.complete());
        try (NDManager manager = NDManager.newBaseManager()) {
            LoadedCheckpoint last = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(4, last.state().globalStep());
            assertEquals(trained.keySet(), last.model().keySet());
            for (Map.Entry<String, float[]> e : trained.entrySet()) {
                assertArrayEquals(e.getValue(), last.model().get(e.getKey()).toFloatArray(), e.getKey());
            }
        }
    }

    /** 16 rows of random tokens, in 4 row groups of 4 rows, so that each of 2 ranks has 2 groups. */
    private static TrainingData rows(Path folder) {
        Configuration conf = new Configuration();
        Random random = new Random(3);
        for (int g = 0; g < 4; g++) {
            List<TokenizedRow> rows = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long[] ids = random.longs(6, 1, 61).toArray();
                rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
            }
            TokenizedParquet.write(conf, folder.resolve("part-%05d.parquet".formatted(g)).toString(), rows, 1 << 16);
        }
        return TrainingData.open(conf, folder.toString());
    }
}
