package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.testing.SlowCreateFileSystem;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.train.TrainingCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training job on {@code local-cluster[2,1,…]} writing its checkpoints to a real but slow file system
 * ({@link SlowCreateFileSystem}: the local disk, sleeping 12 s in the create of {@code trainer_state.json}, set up on
 * the executors through {@code spark.hadoop.*}), with an 8 s collective timeout: rank 1 waits for rank 0's saves at a
 * barrier bounded by {@code dist.checkpoint_timeout_seconds}, so the stage runs once, to its end.
 */
@Tag("integration")
class SlowCheckpointSaveClusterTest {
    private static final long SAVE_DELAY_MS = 12_000;
    private static final int COLLECTIVE_TIMEOUT_SECONDS = 8;

    @RegisterExtension
    static final SparkClusterExtension SPARK = slowCluster();

    @TempDir
    Path dir;

    private static SparkClusterExtension slowCluster() {
        SparkClusterExtension cluster = SparkClusterExtension.localCluster(2, 1024);
        for (Map.Entry<String, String> e : SlowCreateFileSystem.settings(SAVE_DELAY_MS, TrainingCheckpoints.STATE_FILE)
                .entrySet()) {
            cluster = cluster.with("spark.hadoop." + e.getKey(), e.getValue());
        }
        return cluster;
    }

    @Test
    void aSaveSlowerThanTheCollectiveTimeoutDoesNotFailTheStage() {
        Path llama = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        TrainingRuns.writeTokenized(dir.resolve("data"), rows, 4);
        String output = SlowCreateFileSystem.location(dir.resolve("out"));

        TrainingOutcome outcome = TrainingJob.run(SPARK.session(), TrainingRuns.config(List.of(
                "model.model_name_or_path=" + llama, "data.tokenized_path=" + dir.resolve("data"), "method.stage=sft",
                "method.finetuning_type=lora", "method.lora_rank=4", "method.lora_target=q_proj,v_proj",
                "train.output_dir=" + output, "train.learning_rate=5e-3", "train.per_device_train_batch_size=2",
                "train.max_steps=4", "train.save_steps=2", "train.logging_steps=1", "dist.world_size=2",
                "dist.collective_timeout_seconds=" + COLLECTIVE_TIMEOUT_SECONDS, "dist.checkpoint_timeout_seconds=300")));

        assertEquals(1, outcome.stageAttempts(), "no rank timed out waiting for a save, so no retry");
        assertEquals(4, outcome.steps());
        Configuration conf = SlowCreateFileSystem.conf(0, TrainingCheckpoints.STATE_FILE);
        assertEquals(List.of(output + "/checkpoint-2", output + "/checkpoint-4"),
                new TrainingCheckpoints(conf, output, 3).complete());
        assertEquals(output + "/checkpoint-4", outcome.checkpoint());
        SortedMap<String, double[]> saved = TrainingRuns.tensors(conf, outcome.checkpoint());
        assertTrue(!saved.isEmpty() && saved.keySet().stream().allMatch(k -> k.contains("lora_")), saved.keySet().toString());
    }
}
