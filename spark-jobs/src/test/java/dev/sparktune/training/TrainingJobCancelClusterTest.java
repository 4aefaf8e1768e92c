package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.testing.SparkClusterExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cancelling a training job on {@code local-cluster[2,1,…]}: Spark interrupts both ranks' task threads, and the ranks
 * leave the ring and end within seconds instead of training on (or spinning in the ring's waits) until the collective
 * timeout. Issue 19.
 */
@Tag("integration")
class TrainingJobCancelClusterTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    @Test
    void aCancelledJobsRanksEndWithinSecondsNotAtTheCollectiveTimeout() throws Exception {
        Path llama = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        Path data = dir.resolve("llama-data");
        TrainingRuns.writeTokenized(data, rows, 8);
        Path output = dir.resolve("cancelled");
        // far more steps than the test waits for, and a collective timeout far longer than the test's limit
        var job = TrainingRuns.config(List.of("model.model_name_or_path=" + llama, "model.compute_dtype=float64",
                "data.tokenized_path=" + data, "method.stage=sft", "method.finetuning_type=lora", "method.lora_rank=4",
                "method.lora_target=q_proj,v_proj", "train.output_dir=" + output, "train.learning_rate=5e-3",
                "train.per_device_train_batch_size=2", "train.max_steps=1000000", "train.save_steps=1000000",
                "train.logging_steps=2", "dist.world_size=2", "dist.zero_stage=1",
                "dist.collective_timeout_seconds=600"));

        SparkContext sc = SPARK.session().sparkContext();
        Map<Long, Long> started = new ConcurrentHashMap<>();
        Map<Long, Long> ended = new ConcurrentHashMap<>();     // task id → when the driver heard it ended (ms)
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskStart(SparkListenerTaskStart event) {
                started.put(event.taskInfo().taskId(), event.taskInfo().launchTime());
            }

            @Override
            public void onTaskEnd(SparkListenerTaskEnd event) {
                ended.put(event.taskInfo().taskId(), event.taskInfo().finishTime());
            }
        };
        sc.addSparkListener(listener);
        try {
            CompletableFuture<Throwable> run = CompletableFuture.supplyAsync(() -> {
                try {
                    TrainingJob.run(SPARK.session(), job);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Path metrics = output.resolve("metrics.jsonl");
            long waitUntil = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3)) {
                if (System.nanoTime() > waitUntil || run.isDone()) {
                    fail("the ranks did not start training: " + run.getNow(null));
                }
                Thread.sleep(100);
            }
            List<Long> ranks = List.copyOf(started.keySet());
            assertEquals(2, ranks.size(), "two ranks run");

            long cancelledAt = System.currentTimeMillis();
            sc.cancelAllJobs();
            assertNotNull(run.get(2, TimeUnit.MINUTES), "the cancelled job failed on the driver");
            long limit = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!ended.keySet().containsAll(ranks) && System.nanoTime() < limit) {
                Thread.sleep(100);
            }
            assertTrue(ended.keySet().containsAll(ranks), "a rank's task was still running 60 s after the cancel");
            double seconds = (ranks.stream().mapToLong(ended::get).max().orElseThrow() - cancelledAt) / 1000.0;
            System.out.printf("cancelled training job: both ranks ended %.1f s after the cancel%n", seconds);
            assertTrue(seconds < 15, "the ranks ended " + seconds + " s after the cancel");
        } finally {
            sc.removeSparkListener(listener);
        }
    }
}
