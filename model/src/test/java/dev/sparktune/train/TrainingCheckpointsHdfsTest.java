package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.testing.MiniHdfs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Checkpoints and the metrics log on a real HDFS (an in-process MiniDFSCluster). */
@Tag("integration")
class TrainingCheckpointsHdfsTest {
    @RegisterExtension
    static final MiniHdfs hdfs = new MiniHdfs();

    private static final String Q = "model.layers.0.self_attn.q_proj.lora_A.weight";

    private Configuration conf;
    private FileSystem fs;
    /** hdfs://localhost:PORT/runs/<test method>, one folder per test. */
    private String out;

    @BeforeEach
    void setUp(TestInfo test) throws IOException {
        conf = hdfs.conf();
        fs = hdfs.fileSystem();
        out = hdfs.uri("/runs/" + test.getTestMethod().orElseThrow().getName());
    }

    /** The checkpoints in {@code folder}, claimed for writing by attempt 0. */
    private TrainingCheckpoints writer(String folder, int saveTotalLimit) {
        return new TrainingCheckpoints(conf, folder, saveTotalLimit)
                .writingAs(CheckpointFence.claim(new OutputFolder(conf, folder), 0));
    }

    private static TrainerState state(long step) {
        return new TrainerState(step, 1, 37, step - 1, OptionalDouble.of(0.6931471805599453), 2,
                Map.of("sft", 40 * step, "spam", Long.MAX_VALUE), Map.of("method", "lora"));
    }

    private static Map<String, NDArray> model(NDManager manager, float shift) {
        Map<String, NDArray> t = new TreeMap<>();
        // float bits that a lossy path would change: -0, a subnormal, NaN with a payload, the extremes
        float[] q = {-0.0f, Float.MIN_VALUE, Float.intBitsToFloat(0x7FC00123), Float.MAX_VALUE, -Float.MAX_VALUE, 1f / 3 + shift};
        t.put(Q, manager.create(q, new Shape(2, 3)));
        t.put("model.norm.weight", manager.arange(8f).div(7f).add(shift).toType(DataType.FLOAT16, false));
        return t;
    }

    private static Map<String, NDArray> optimizer(NDManager manager) {
        return Map.of(TrainingCheckpoints.optimizerTensorName(Q, "exp_avg"), manager.randomUniform(-1, 1, new Shape(2, 3)));
    }

    private static void assertBitExact(Map<String, NDArray> expected, Map<String, NDArray> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            assertEquals(expected.get(name).getDataType(), actual.get(name).getDataType(), name);
            assertEquals(expected.get(name).getShape(), actual.get(name).getShape(), name);
            assertArrayEquals(expected.get(name).toByteArray(), actual.get(name).toByteArray(), name);
        }
    }

    /** What {@code folder} holds besides the writer's claim ({@link CheckpointFence}). */
    private List<String> entries(String folder) throws IOException {
        return Arrays.stream(fs.listStatus(new Path(folder))).map(s -> s.getPath().getName())
                .filter(n -> !n.startsWith(CheckpointFence.PREFIX)).sorted().toList();
    }

    /** Local temporary folders of uploads and downloads, which must not outlive a save or a load. */
    private static long localTemporaries() throws IOException {
        try (Stream<java.nio.file.Path> files = Files.list(java.nio.file.Path.of(System.getProperty("java.io.tmpdir")))) {
            return files.filter(p -> p.getFileName().toString().matches("sparktune-(upload|download)-.*")).count();
        }
    }

    @Test
    void saveThenLoadOnHdfsGivesTheSameTensorsAndState() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        long temporariesBefore = localTemporaries();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> model = model(manager, 0);
            Map<String, NDArray> optimizer = optimizer(manager);
            String folder = checkpoints.save(state(40), model, optimizer);
            assertEquals(out + "/checkpoint-40", folder);
            assertEquals(List.of("_SUCCESS", "model.safetensors", "optimizer.safetensors", "trainer_state.json"),
                    entries(folder), "no .crc files, no temporaries");
            assertEquals(List.of("checkpoint-40"), entries(out));

            try (NDManager loadInto = NDManager.newBaseManager()) {
                LoadedCheckpoint loaded = checkpoints.loadLatest(loadInto).orElseThrow();
                assertEquals(folder, loaded.folder());
                assertEquals(state(40), loaded.state());
                assertBitExact(model, loaded.model());
                assertBitExact(optimizer, loaded.optimizer());
                assertEquals(loadInto, loaded.model().get(Q).getManager());
            }
            // the same checkpoint read by a job that knows only its location
            assertEquals(state(40), TrainingCheckpoints.load(hdfs.conf(), folder, manager).state());
        }
        assertEquals(temporariesBefore, localTemporaries(), "local copies of uploads and downloads are removed");
    }

    @Test
    void aFolderWithoutSuccessIsIgnoredAndRemovedByTheNextSave() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 5);
        try (NDManager manager = NDManager.newBaseManager()) {
            checkpoints.save(state(10), model(manager, 0), optimizer(manager));
            checkpoints.save(state(20), model(manager, 1), optimizer(manager));

            // a crash while saving step 30: the files are there, the marker is not
            Path crashed = new Path(out, "checkpoint-30");
            fs.mkdirs(crashed);
            try (FSDataOutputStream state = fs.create(new Path(crashed, "trainer_state.json"))) {
                state.write("{\"global_step\": 30".getBytes(StandardCharsets.UTF_8));
            }
            // and a crash before the rename, in an earlier run
            fs.mkdirs(new Path(out, ".checkpoint-25.0b3f6d2e-8c1a-4b5e-9f00-123456789abc.tmp"));

            assertEquals(out + "/checkpoint-20", checkpoints.latest().orElseThrow());
            assertEquals(List.of(out + "/checkpoint-10", out + "/checkpoint-20"), checkpoints.complete());
            CheckpointException refused = assertThrows(CheckpointException.class,
                    () -> TrainingCheckpoints.load(conf, crashed.toString(), manager));
            assertEquals(crashed.toString(), refused.location());
            assertTrue(refused.getMessage().contains("_SUCCESS"), refused.getMessage());

            checkpoints.save(state(30), model(manager, 3), optimizer(manager));
            assertEquals(List.of("checkpoint-10", "checkpoint-20", "checkpoint-30"), entries(out));
            LoadedCheckpoint loaded = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(state(30), loaded.state());
            assertBitExact(model(manager, 3), loaded.model());
        }
    }

    @Test
    void saveTotalLimitKeepsTheNewestAndAStepSavedAgainReplacesIt() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 2);
        try (NDManager manager = NDManager.newBaseManager()) {
            // 9 before 10: steps compare as numbers, not as folder names
            for (long step : new long[] {8, 9, 10, 11}) {
                checkpoints.save(state(step), model(manager, step), optimizer(manager));
            }
            assertEquals(List.of("checkpoint-10", "checkpoint-11"), entries(out));
            assertBitExact(model(manager, 11), checkpoints.loadLatest(manager).orElseThrow().model());

            TrainerState again = new TrainerState(11, 2, 0, 11, OptionalDouble.empty(), 0, Map.of(), Map.of());
            checkpoints.save(again, model(manager, 100), optimizer(manager));
            assertEquals(List.of("checkpoint-10", "checkpoint-11"), entries(out));
            LoadedCheckpoint loaded = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(again, loaded.state());
            assertBitExact(model(manager, 100), loaded.model());
        }
    }

    @Test
    void aWriterOfAnOlderAttemptCanNeitherCommitNorPruneOnHdfs() throws IOException {
        TrainingCheckpoints zombie = new TrainingCheckpoints(conf, out, 1)
                .writingAs(CheckpointFence.claim(new OutputFolder(conf, out), 0));
        try (NDManager manager = NDManager.newBaseManager()) {
            zombie.save(state(10), model(manager, 10), optimizer(manager));
            CheckpointFence retried = CheckpointFence.claim(new OutputFolder(conf, out), 1);

            CheckpointException refused = assertThrows(CheckpointException.class,
                    () -> zombie.save(state(20), model(manager, -20), optimizer(manager)));
            assertTrue(refused.getMessage().contains("superseded"), refused.getMessage());
            assertEquals(List.of("checkpoint-10"), entries(out), "checkpoint-10 kept, no half-saved checkpoint-20");

            TrainingCheckpoints writer = new TrainingCheckpoints(conf, out, 1).writingAs(retried);
            writer.save(state(20), model(manager, 20), optimizer(manager));
            assertEquals(List.of("checkpoint-20"), entries(out));
            assertBitExact(model(manager, 20), writer.loadLatest(manager).orElseThrow().model());
            assertEquals(List.of(CheckpointFence.PREFIX + retried.generation()), Arrays.stream(fs.listStatus(new Path(out)))
                    .map(s -> s.getPath().getName()).filter(n -> n.startsWith(CheckpointFence.PREFIX)).toList());
        }
    }

    @Test
    void aRenamedOrDamagedCheckpointIsRefusedNamingTheFile() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        long temporariesBefore = localTemporaries();
        try (NDManager manager = NDManager.newBaseManager()) {
            String saved = checkpoints.save(state(12), model(manager, 0), optimizer(manager));
            Path renamed = new Path(out, "checkpoint-13");
            assertTrue(fs.rename(new Path(saved), renamed));
            CheckpointException moved = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertEquals(renamed + "/trainer_state.json", moved.location());
            assertTrue(moved.getMessage().contains("global_step 12") && moved.getMessage().contains("checkpoint-13"),
                    moved.getMessage());
            assertThrows(UnsupportedOperationException.class, moved::file, "an hdfs:// file is no local path");

            // a model file cut short: the download is refused by the safetensors reader, then removed
            assertTrue(fs.rename(renamed, new Path(saved)));
            Path modelFile = new Path(saved, "model.safetensors");
            byte[] bytes;
            try (var in = fs.open(modelFile)) {
                bytes = in.readAllBytes();
            }
            try (FSDataOutputStream cut = fs.create(modelFile, true)) {
                cut.write(bytes, 0, bytes.length - 3);
            }
            CheckpointException truncated = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertTrue(truncated.getMessage().contains("model.safetensors"), truncated.getMessage());
        }
        assertEquals(temporariesBefore, localTemporaries(), "a failed load removes its local copy too");
    }

    @Test
    void metricsLinesAreVisibleWhileTheLogIsOpenAndAResumeDropsLaterSteps() throws IOException {
        String file = out + "/metrics.jsonl";
        try (MetricsLog log = MetricsLog.create(conf, file)) {
            log.write(metrics(10));
            log.write(metrics(20));
            // hflush: another client reads the lines before the writer closes the file
            assertEquals(List.of(metrics(10), metrics(20)), MetricsLog.read(hdfs.conf(), file));
            log.write(metrics(30));
        }
        // a crash cut the last line short
        List<String> lines;
        try (var in = fs.open(new Path(file))) {
            lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        try (FSDataOutputStream rewritten = fs.create(new Path(file), true)) {
            rewritten.write((String.join("\n", lines) + "\n" + "{\"step\":40,\"lo").getBytes(StandardCharsets.UTF_8));
        }

        try (MetricsLog log = MetricsLog.resume(conf, file, 20)) {
            assertEquals(List.of(metrics(10), metrics(20)), MetricsLog.read(conf, file), "the kept lines, flushed");
            log.write(metrics(30));
            log.write(metrics(40));
        }
        assertEquals(List.of(metrics(10), metrics(20), metrics(30), metrics(40)), MetricsLog.read(conf, file));
        assertEquals(List.of("metrics.jsonl"), entries(out));
    }

    @Test
    void resumingWithoutAMetricsFileStartsOne() {
        String file = out + "/metrics.jsonl";
        try (MetricsLog log = MetricsLog.resume(conf, file, 5)) {
            log.write(metrics(6));
        }
        assertEquals(List.of(metrics(6)), MetricsLog.read(conf, file));
    }

    private static StepMetrics metrics(long step) {
        return new StepMetrics(step, 1.0 / step, Map.of("sft", 2.0 / step), 2e-5 * step, 0.75 + step, 1234.5 * step, 3.25 * step);
    }

    @Test
    void anEmptyOutputFolderHasNoCheckpoint() {
        TrainingCheckpoints checkpoints = new TrainingCheckpoints(conf, out + "/never-written", 3);
        assertTrue(checkpoints.latest().isEmpty());
        assertTrue(checkpoints.complete().isEmpty());
        try (NDManager manager = NDManager.newBaseManager()) {
            CheckpointException missing = assertThrows(CheckpointException.class,
                    () -> TrainingCheckpoints.load(conf, out + "/checkpoint-3", manager));
            assertTrue(missing.getMessage().startsWith(out + "/checkpoint-3: no such checkpoint folder"), missing.getMessage());
        }
        assertEquals(out + "/never-written/checkpoint-3", checkpoints.folder(3));
    }
}
