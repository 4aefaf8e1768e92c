package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.testing.SlowCreateFileSystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rank 0 left over from a failed stage attempt (the "zombie", attempt 0) races the retried attempt's rank 0
 * (attempt 1) on one output folder. The zombie's saves go through {@link SlowCreateFileSystem} (the local disk,
 * sleeping in the create of {@code trainer_state.json}), so that it is caught mid-save when the new attempt claims the
 * folder; the new attempt writes to the same folder without delay.
 */
class CheckpointFenceTest {
    private static final String W = "model.layers.0.self_attn.q_proj.lora_A.weight";

    @TempDir
    Path dir;

    private static TrainerState state(long step) {
        return new TrainerState(step, 0, step, step, OptionalDouble.empty(), 0, Map.of(), Map.of());
    }

    private static Map<String, NDArray> model(NDManager manager, float value) {
        return Map.of(W, manager.full(new Shape(2, 3), value));
    }

    private static Map<String, NDArray> optimizer(NDManager manager) {
        return Map.of(TrainingCheckpoints.optimizerTensorName(W, "exp_avg"), manager.zeros(new Shape(2, 3)));
    }

    private OutputFolder output(Configuration conf) {
        return new OutputFolder(conf, SlowCreateFileSystem.location(dir.resolve("out")));
    }

    private static TrainingCheckpoints checkpoints(OutputFolder output, int saveTotalLimit) {
        return new TrainingCheckpoints(output.conf(), output.location(), saveTotalLimit);
    }

    @Test
    void aZombieCaughtMidSaveCannotCommitOverTheNewAttemptsCheckpoint() throws Exception {
        OutputFolder fast = output(SlowCreateFileSystem.conf(0, TrainingCheckpoints.STATE_FILE));
        OutputFolder slow = output(SlowCreateFileSystem.conf(3_000, TrainingCheckpoints.STATE_FILE));
        CheckpointFence zombieClaim = CheckpointFence.claim(fast, 0);
        try (NDManager manager = NDManager.newBaseManager()) {
            checkpoints(fast, 3).writingAs(zombieClaim).save(state(10), model(manager, 10), optimizer(manager));

            // the zombie saves step 20 and sleeps in the middle of it
            TrainingCheckpoints zombie = checkpoints(slow, 3).writingAs(zombieClaim);
            CompletableFuture<String> zombieSave = CompletableFuture.supplyAsync(
                    () -> zombie.save(state(20), model(manager, -20), optimizer(manager)));
            awaitTensorsWrittenBy(20, "w" + zombieClaim.generation() + "-a0");

            // the retried attempt claims the folder, resumes from the newest complete checkpoint and saves step 20
            CheckpointFence newClaim = CheckpointFence.claim(fast, 1);
            assertTrue(newClaim.generation() > zombieClaim.generation());
            TrainingCheckpoints retried = checkpoints(fast, 3).writingAs(newClaim);
            assertEquals(fast.resolve("checkpoint-10"), retried.latest().orElseThrow());
            String saved = retried.save(state(20), model(manager, 20), optimizer(manager));

            Exception refused = assertThrows(Exception.class, () -> zombieSave.get(30, TimeUnit.SECONDS));
            assertTrue(refused.getCause() instanceof CheckpointException, String.valueOf(refused.getCause()));
            // the new attempt's checkpoint-20 is there, so the zombie's first refused act is replacing it
            assertTrue(refused.getCause().getMessage().contains("refusing to replace checkpoint-20")
                    && refused.getCause().getMessage().contains("superseded"), refused.getCause().getMessage());

            assertEquals(List.of(fast.resolve("checkpoint-10"), saved), retried.complete());
            LoadedCheckpoint newest = retried.loadLatest(manager).orElseThrow();
            assertEquals(state(20), newest.state());
            assertArrayEquals(model(manager, 20).get(W).toFloatArray(), newest.model().get(W).toFloatArray(),
                    "the new attempt's checkpoint, not the zombie's");
            assertEquals(List.of("_writer-" + newClaim.generation(), "checkpoint-10", "checkpoint-20"), entries(),
                    "no zombie leftovers and one claim");
        }
    }

    @Test
    void aZombiesPruningNeverDeletesTheCheckpointTheNewAttemptResumesFrom() {
        OutputFolder output = output(SlowCreateFileSystem.conf(0, TrainingCheckpoints.STATE_FILE));
        CheckpointFence zombieClaim = CheckpointFence.claim(output, 0);
        TrainingCheckpoints zombie = checkpoints(output, 1).writingAs(zombieClaim);
        try (NDManager manager = NDManager.newBaseManager()) {
            zombie.save(state(10), model(manager, 10), optimizer(manager));

            // the retried attempt claims the folder and picks checkpoint-10; before its ranks have read it, the zombie,
            // with save_total_limit 1, saves step 20 and would remove checkpoint-10
            CheckpointFence newClaim = CheckpointFence.claim(output, 1);
            String resumed = checkpoints(output, 1).writingAs(newClaim).latest().orElseThrow();
            CheckpointException refused = assertThrows(CheckpointException.class,
                    () -> zombie.save(state(20), model(manager, -20), optimizer(manager)));
            assertTrue(refused.getMessage().contains("superseded"), refused.getMessage());

            LoadedCheckpoint loaded = TrainingCheckpoints.load(output.conf(), resumed, manager);
            assertEquals(state(10), loaded.state());
            assertEquals(List.of(resumed), checkpoints(output, 1).complete());
        }
    }

    @Test
    void aFolderClearedAndClaimedAgainStillFencesOutTheOldWriter() throws IOException {
        OutputFolder output = output(SlowCreateFileSystem.conf(0, TrainingCheckpoints.STATE_FILE));
        CheckpointFence old = CheckpointFence.claim(output, 0);
        // someone clears the folder: the next claim reuses generation 1, but not the old writer's token
        try (Stream<Path> files = Files.list(dir.resolve("out"))) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        CheckpointFence again = CheckpointFence.claim(output, 0);
        assertEquals(old.generation(), again.generation());
        try (NDManager manager = NDManager.newBaseManager()) {
            CheckpointException refused = assertThrows(CheckpointException.class, () -> checkpoints(output, 3)
                    .writingAs(old).save(state(5), model(manager, 5), optimizer(manager)));
            assertTrue(refused.getMessage().contains("removed or replaced"), refused.getMessage());
            checkpoints(output, 3).writingAs(again).save(state(5), model(manager, 5), optimizer(manager));
        }
        assertFalse(checkpoints(output, 3).complete().isEmpty());
    }

    @Test
    void savingWithoutAClaimIsRefused() {
        OutputFolder output = OutputFolder.local(dir.resolve("out"));
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThrows(IllegalStateException.class, () -> new TrainingCheckpoints(output.conf(), output.location(), 3)
                    .save(state(1), model(manager, 1), optimizer(manager)));
        }
    }

    /**
     * Waits until {@code writer} ({@code w<generation>-a<attempt>}) has written both tensor files of {@code step} into
     * its temporary folder: it then sleeps in the create of {@code trainer_state.json}, before its first commit.
     */
    private void awaitTensorsWrittenBy(long step, String writer) throws Exception {
        String prefix = ".checkpoint-" + step + "." + writer + ".";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (String name : entriesIncludingHidden()) {
                if (name.startsWith(prefix) && Files.isRegularFile(dir.resolve("out").resolve(name)
                        .resolve(TrainingCheckpoints.OPTIMIZER_FILE))) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no temporary folder " + prefix + "* with its tensors appeared: " + entriesIncludingHidden());
    }

    private List<String> entriesIncludingHidden() throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("out"))) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private List<String> entries() throws IOException {
        return entriesIncludingHidden().stream().filter(n -> !n.startsWith(".")).toList();
    }
}
