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
import dev.sparktune.io.HadoopFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingCheckpointsTest {
    private static final String Q = "model.layers.0.self_attn.q_proj.lora_A.weight";
    private static final String V = "model.layers.0.self_attn.v_proj.lora_B.weight";

    @TempDir
    Path out;

    /** The checkpoints in {@code folder}, claimed for writing by attempt 0. */
    static TrainingCheckpoints writer(Path folder, int saveTotalLimit) {
        return new TrainingCheckpoints(folder, saveTotalLimit).writingAs(CheckpointFence.claim(OutputFolder.local(folder), 0));
    }

    private static TrainerState state(long step) {
        return new TrainerState(step, 1, 37, step - 1, OptionalDouble.of(0.6931471805599453), 2,
                Map.of("sft", 40 * step, "spam", Long.MAX_VALUE), Map.of("method", "lora", "world_size", "2"));
    }

    private static Map<String, NDArray> model(NDManager manager, float shift) {
        Map<String, NDArray> t = new TreeMap<>();
        // float bits that a lossy path would change: -0, a subnormal, NaN with a payload, the extremes
        float[] q = {-0.0f, Float.MIN_VALUE, Float.intBitsToFloat(0x7FC00123), Float.MAX_VALUE, -Float.MAX_VALUE, 1f / 3 + shift};
        t.put(Q, manager.create(q, new Shape(2, 3)));
        t.put(V, manager.arange(12f).reshape(3, 4).toType(DataType.FLOAT64, false).div(7.0).sub(shift));
        t.put("score.bias", manager.create(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}));
        t.put("model.norm.weight", manager.arange(8f).div(7f).toType(DataType.FLOAT16, false));
        return t;
    }

    private static Map<String, NDArray> optimizer(NDManager manager) {
        Map<String, NDArray> t = new TreeMap<>();
        t.put(TrainingCheckpoints.optimizerTensorName(Q, "exp_avg"), manager.randomUniform(-1, 1, new Shape(2, 3)));
        t.put(TrainingCheckpoints.optimizerTensorName(Q, "exp_avg_sq"), manager.randomUniform(0, 1, new Shape(2, 3)));
        t.put(TrainingCheckpoints.optimizerTensorName(V, "exp_avg"), manager.randomUniform(-1, 1, new Shape(3, 4)));
        return t;
    }

    private static void assertBitExact(Map<String, NDArray> expected, Map<String, NDArray> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            NDArray e = expected.get(name);
            NDArray a = actual.get(name);
            assertEquals(e.getDataType(), a.getDataType(), name);
            assertEquals(e.getShape(), a.getShape(), name);
            assertArrayEquals(e.toByteArray(), a.toByteArray(), name);
        }
    }

    /** A location the checkpoints gave back, as a local path. */
    private static Path local(String location) {
        return Path.of(URI.create(location));
    }

    /** What the output folder holds besides the writer's claim ({@link CheckpointFence}). */
    private List<String> entries() throws IOException {
        try (Stream<Path> files = Files.list(out)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(CheckpointFence.PREFIX))
                    .sorted().toList();
        }
    }

    @Test
    void saveThenLoadGivesTheSameTensorsAndState() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> model = model(manager, 0);
            Map<String, NDArray> optimizer = optimizer(manager);
            Path folder = local(checkpoints.save(state(40), model, optimizer));
            assertEquals(out.resolve("checkpoint-40"), folder);
            assertTrue(Files.isRegularFile(folder.resolve("_SUCCESS")));
            assertTrue(Files.isRegularFile(folder.resolve("model.safetensors")));
            assertTrue(Files.isRegularFile(folder.resolve("optimizer.safetensors")));
            assertTrue(Files.isRegularFile(folder.resolve("trainer_state.json")));
            try (Stream<Path> files = Files.list(folder)) {
                assertEquals(4, files.count(), "no Hadoop .crc side files, no temporaries");
            }

            try (NDManager loadInto = NDManager.newBaseManager()) {
                LoadedCheckpoint loaded = checkpoints.loadLatest(loadInto).orElseThrow();
                assertEquals(folder, local(loaded.folder()));
                assertEquals(state(40), loaded.state());
                assertBitExact(model, loaded.model());
                assertBitExact(optimizer, loaded.optimizer());
                assertEquals(List.of("exp_avg", "exp_avg_sq"), List.copyOf(loaded.optimizerState(Q).keySet()));
                assertArrayEquals(optimizer.get(Q + "/exp_avg_sq").toByteArray(),
                        loaded.optimizerState(Q).get("exp_avg_sq").toByteArray());
                assertEquals(loadInto, loaded.model().get(Q).getManager());
            }
        }
    }

    @Test
    void stateWithoutValidationAndOptimizerWithoutTensorsRoundTrip() {
        TrainingCheckpoints checkpoints = writer(out, 3);
        TrainerState fresh = new TrainerState(5, 0, 5, 5, OptionalDouble.empty(), 0, Map.of(), Map.of());
        try (NDManager manager = NDManager.newBaseManager()) {
            checkpoints.save(fresh, model(manager, 0), Map.of());
            LoadedCheckpoint loaded = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(fresh, loaded.state());
            assertTrue(loaded.optimizer().isEmpty());
        }
    }

    @Test
    void aFolderWithoutSuccessIsIgnoredAndRemovedByTheNextSave() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 5);
        try (NDManager manager = NDManager.newBaseManager()) {
            checkpoints.save(state(10), model(manager, 0), optimizer(manager));
            checkpoints.save(state(20), model(manager, 1), optimizer(manager));

            // a crash while saving step 30: the files are there, the marker is not
            Path crashed = Files.createDirectory(out.resolve("checkpoint-30"));
            Files.copy(out.resolve("checkpoint-20/model.safetensors"), crashed.resolve("model.safetensors"));
            Files.writeString(crashed.resolve("trainer_state.json"), "{\"global_step\": 30");
            // and a crash before the rename, in an earlier run
            Files.createDirectory(out.resolve(".checkpoint-25.0b3f6d2e-8c1a-4b5e-9f00-123456789abc.tmp"));

            assertEquals(out.resolve("checkpoint-20"), local(checkpoints.latest().orElseThrow()));
            assertEquals(List.of(out.resolve("checkpoint-10"), out.resolve("checkpoint-20")),
                    checkpoints.complete().stream().map(TrainingCheckpointsTest::local).toList());
            assertEquals(20, checkpoints.loadLatest(manager).orElseThrow().state().globalStep());
            CheckpointException refused = assertThrows(CheckpointException.class, () -> TrainingCheckpoints.load(crashed, manager));
            assertTrue(refused.getMessage().contains("_SUCCESS"), refused.getMessage());

            checkpoints.save(state(30), model(manager, 3), optimizer(manager));
            assertEquals(List.of("checkpoint-10", "checkpoint-20", "checkpoint-30"), entries());
            LoadedCheckpoint loaded = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(state(30), loaded.state());
            assertBitExact(model(manager, 3), loaded.model());
        }
    }

    @Test
    void aFolderWhoseStepDoesNotFitALongIsIgnoredNotFatal() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            String saved = checkpoints.save(state(10), model(manager, 0), optimizer(manager));
            Path odd = Files.createDirectories(out.resolve("checkpoint-" + "9".repeat(20)));
            Files.createFile(odd.resolve(TrainingCheckpoints.SUCCESS_MARKER));

            // Long.parseLong of 20 nines failed every resume of this output folder before
            assertEquals(Optional.of(saved), checkpoints.latest());
            checkpoints.save(state(20), model(manager, 1), optimizer(manager));
            assertEquals(2, checkpoints.complete().size());
            assertTrue(Files.isDirectory(odd), "a folder that is not ours is left alone");
        }
    }

    @Test
    void theCommitMarkerIsNeverWrittenIntoAFolderThatIsGone() throws IOException {
        org.apache.hadoop.fs.Path gone = new org.apache.hadoop.fs.Path(out.resolve("checkpoint-30").toUri());
        FileSystem fs = gone.getFileSystem(new Configuration());

        // fs.create would make the folder again, holding only the marker: a "complete" checkpoint with no files
        assertThrows(FileNotFoundException.class, () -> HadoopFiles.writeMarker(fs,
                new org.apache.hadoop.fs.Path(gone, TrainingCheckpoints.SUCCESS_MARKER)));
        assertFalse(Files.exists(out.resolve("checkpoint-30")));

        Files.createDirectories(out.resolve("checkpoint-30"));
        HadoopFiles.writeMarker(fs, new org.apache.hadoop.fs.Path(gone, TrainingCheckpoints.SUCCESS_MARKER));
        assertTrue(Files.isRegularFile(out.resolve("checkpoint-30").resolve(TrainingCheckpoints.SUCCESS_MARKER)));
    }

    @Test
    void saveTotalLimitKeepsTheNewest() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 2);
        try (NDManager manager = NDManager.newBaseManager()) {
            // 9 before 10: steps compare as numbers, not as folder names
            for (long step : new long[] {8, 9, 10, 11}) {
                checkpoints.save(state(step), model(manager, step), optimizer(manager));
            }
            assertEquals(List.of("checkpoint-10", "checkpoint-11"), entries());
            assertEquals(out.resolve("checkpoint-11"), local(checkpoints.latest().orElseThrow()));
            assertBitExact(model(manager, 11), checkpoints.loadLatest(manager).orElseThrow().model());
        }
    }

    @Test
    void savingAStepAgainReplacesIt() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            checkpoints.save(state(7), model(manager, 0), optimizer(manager));
            TrainerState again = new TrainerState(7, 2, 0, 7, OptionalDouble.of(0.5), 0, Map.of(), Map.of());
            checkpoints.save(again, model(manager, 1), optimizer(manager));
            assertEquals(List.of("checkpoint-7"), entries());
            LoadedCheckpoint loaded = checkpoints.loadLatest(manager).orElseThrow();
            assertEquals(again, loaded.state());
            assertBitExact(model(manager, 1), loaded.model());
        }
    }

    @Test
    void aCorruptedTrainerStateNamesTheFile() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            Path folder = local(checkpoints.save(state(12), model(manager, 0), optimizer(manager)));
            Path stateFile = folder.resolve("trainer_state.json");
            String json = Files.readString(stateFile);

            Files.writeString(stateFile, json.substring(0, json.length() / 2));
            CheckpointException truncated = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertEquals(stateFile, truncated.file());
            assertTrue(truncated.getMessage().startsWith(truncated.location() + ": "), truncated.getMessage());
            assertTrue(truncated.getMessage().contains("not valid JSON"), truncated.getMessage());

            Files.writeString(stateFile, json.replace("\"epoch_position\"", "\"position\""));
            CheckpointException missing = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertEquals(stateFile, missing.file());
            assertTrue(missing.getMessage().contains("epoch_position"), missing.getMessage());

            Files.writeString(stateFile, json.replace("\"global_step\": 12", "\"global_step\": 13"));
            CheckpointException moved = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertTrue(moved.getMessage().contains("checkpoint-12"), moved.getMessage());

            Files.writeString(stateFile, json.replace("\"patience_counter\": 2", "\"patience_counter\": 2.5"));
            CheckpointException fraction = assertThrows(CheckpointException.class, () -> checkpoints.loadLatest(manager));
            assertTrue(fraction.getMessage().contains("patience_counter"), fraction.getMessage());
        }
    }

    @Test
    void aStateWrittenBeforeRowCountsWithAnEmptyRngStateStillLoads() throws IOException {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            Path folder = local(checkpoints.save(state(12), model(manager, 0), optimizer(manager)));
            assertFalse(Files.readString(folder.resolve("trainer_state.json")).contains("rng_state"));
            Files.writeString(folder.resolve("trainer_state.json"), """
                    {
                      "global_step": 12,
                      "epoch": 1,
                      "epoch_position": 37,
                      "rng_state": [],
                      "scheduler_step": 12,
                      "best_validation_loss": null,
                      "patience_counter": 0,
                      "metadata": {"method": "lora"}
                    }
                    """);
            assertEquals(new TrainerState(12, 1, 37, 12, OptionalDouble.empty(), 0, Map.of(), Map.of("method", "lora")),
                    checkpoints.loadLatest(manager).orElseThrow().state());
        }
    }

    @Test
    void optimizerTensorsMustBeNamedByParameterAndState() {
        TrainingCheckpoints checkpoints = writer(out, 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> checkpoints.save(state(1), model(manager, 0), Map.of("exp_avg", manager.ones(new Shape(2)))));
            assertTrue(e.getMessage().contains("<parameter>/<state>"), e.getMessage());
        }
        assertFalse(Files.exists(out.resolve("checkpoint-1")));
    }
}
