package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.io.TokenizedRow;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver's and the ranks' small decisions, without a cluster. */
class TrainingJobTest {

    @Test
    void locationsWithoutASchemeAreQualifiedOnTheDriverSoEveryExecutorReadsTheSamePlace() {
        LoadedConfig config = TrainingRuns.config(List.of("model.model_name_or_path=models/m", "data.tokenized_path=/data/t",
                "train.output_dir=runs/x", "train.resume_from_checkpoint=hdfs://nn:8020/runs/y/checkpoint-4"));
        LoadedConfig qualified = TrainingJob.qualified(config, new Configuration());

        String cwd = Path.of("").toAbsolutePath().toString();
        assertEquals("file:" + cwd + "/models/m", qualified.job().model().modelNameOrPath());
        assertEquals("file:/data/t", qualified.job().data().tokenizedPath());
        assertEquals("file:" + cwd + "/runs/x", qualified.job().train().outputDir());
        assertEquals("hdfs://nn:8020/runs/y/checkpoint-4", qualified.job().train().resumeFromCheckpoint());
    }

    @Test
    void modelDeviceChoosesBetweenTheAssignedGpuAndTheCpu() {
        assertEquals(Device.gpu(3), RankTask.device(new String[] {"3", "4"}, "auto"));
        assertEquals(Device.cpu(), RankTask.device(new String[0], "auto"));
        assertEquals(Device.cpu(), RankTask.device(new String[] {"3"}, "cpu"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> RankTask.device(new String[0], "gpu"));
        assertTrue(e.getMessage().contains("spark.task.resource.gpu.amount=1"), e.getMessage());
    }

    @Test
    void theProgressServerTakesLinesAfterTheTokenOnlyAndWaitsForTheLastOnes() throws Exception {
        try (ProgressServer server = ProgressServer.start("test", new SparkConf(false).set("spark.driver.host", "127.0.0.1"))) {
            ProgressReporter.Target target = server.target();
            try (Socket stranger = new Socket(target.host(), target.port());
                 Writer out = new OutputStreamWriter(stranger.getOutputStream(), StandardCharsets.UTF_8)) {
                out.write("not the token\n" + new ProgressUpdate(1, 2, 1.0, 1e-3, 10, Optional.empty(), Map.of(), Map.of()).toJson() + "\n");
            }
            try (Socket rank0 = new Socket(target.host(), target.port());
                 Writer out = new OutputStreamWriter(rank0.getOutputStream(), StandardCharsets.UTF_8)) {
                out.write(target.token() + "\n");
                out.write(new ProgressUpdate(1, 2, 1.5, 1e-3, 10, Optional.of(Duration.ofSeconds(3)), Map.of(), Map.of())
                        .toJson() + "\n");
                out.write(new ProgressUpdate(2, 2, 1.25, 5e-4, 12, Optional.of(Duration.ZERO), Map.of("mood", 1.0, "topic", 1.5),
                        Map.of("validation", 1.2, "validation/mood/loss", 1.2, "validation/mood/accuracy", 0.75))
                        .toJson() + "\n");
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (server.accepted() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);     // the server accepts on its own thread
            }
            List<ProgressUpdate> received = server.awaitLastUpdates(Duration.ofSeconds(10));
            assertEquals(List.of(1L, 2L), received.stream().map(ProgressUpdate::step).toList());
            assertEquals(1.25, received.get(1).loss());
            assertEquals("step 1/2 | loss 1.5000 | lr 1.0e-03 | 10 tok/s | ETA 3s", received.get(0).line());
            assertEquals("step 2/2 | loss 1.2500 | lr 5.0e-04 | 12 tok/s | ETA 0s | mood 1.0000 topic 1.5000"
                    + " | validation 1.2000 | mood accuracy 0.7500 loss 1.2000", received.get(1).line());
        }
    }

    @Test
    void withoutAProgressSocketTheJobRunsWithoutProgress() {
        // an address of TEST-NET-3 (reserved for documentation) that no interface of this machine has: binding fails
        try (ProgressServer server = ProgressServer.start("test", new SparkConf(false)
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "203.0.113.77"))) {
            assertNull(server.target());
            assertEquals(List.of(), server.awaitLastUpdates(Duration.ofMillis(10)));
        }
    }
}
