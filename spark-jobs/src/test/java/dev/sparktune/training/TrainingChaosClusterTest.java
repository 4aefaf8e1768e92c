package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.testing.HoldingFileSystem;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.TrainerState;
import dev.sparktune.train.TrainingCheckpoints;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19's chaos tests that need a training job, on {@code local-cluster[2,1,…]} (two executor JVMs, one rank each,
 * gradients over the TCP ring): slow-loris clients against the driver's progress server and against the ranks' ring
 * listeners while the ring forms, and a checkpoint writer of an earlier attempt (a "zombie" rank 0, caught mid-save)
 * racing the retried attempt of a job whose stage Spark retries. (A save slower than the collective timeout is
 * {@link SlowCheckpointSaveClusterTest}'s, which needs a cluster of its own.)
 */
@Tag("integration")
class TrainingChaosClusterTest {
    /** More connections than the progress server and a ring listener serve at once (8 each). */
    private static final int LORISES_PER_LISTENER = 12;
    /** How long the test waits for a listener to drop its slow-loris clients: far past their 5 s deadlines. */
    private static final Duration DROP_LIMIT = Duration.ofSeconds(60);

    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static Path llama;
    private static Path data;

    private final List<SlowLoris> lorises = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void writeTinyLlamaAndData() {
        llama = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        data = dir.resolve("data");
        TrainingRuns.writeTokenized(data, rows, 4);
    }

    @AfterEach
    void stopLorises() throws InterruptedException {
        for (SlowLoris loris : List.copyOf(lorises)) {
            loris.close();
        }
    }

    private static LoadedConfig job(String output, String... more) {
        List<String> keys = new ArrayList<>(List.of("model.model_name_or_path=" + llama, "data.tokenized_path=" + data,
                "method.stage=sft", "method.finetuning_type=lora", "method.lora_rank=4",
                "method.lora_target=q_proj,v_proj", "train.output_dir=" + output, "train.learning_rate=5e-3",
                "train.per_device_train_batch_size=2", "train.max_steps=6", "train.save_steps=2",
                "train.save_total_limit=2", "train.logging_steps=1", "dist.world_size=2"));
        keys.addAll(List.of(more));
        return TrainingRuns.config(keys);
    }

    /**
     * The progress server and each rank's ring listener get {@value #LORISES_PER_LISTENER} slow-loris clients. The
     * ranks of the first stage attempt are held after binding their ring listeners, with the clients queued there,
     * until the progress server has dropped its clients; then the ring forms with the clients first in line. The
     * listeners serve a few clients at a time and drop each one at its handshake deadline, so the real peers get in
     * and the stage runs once, to its end, with its progress on the driver. Without the deadlines the clients would
     * hold every handshake slot: rank 0's progress and the ranks' own connections would be turned away until the
     * collective timeout failed the stage.
     */
    @Test
    void slowLorisClientsOnTheProgressServerAndTheRingListenersDoNotStopTraining() throws Exception {
        String output = TrainingRuns.location(dir.resolve("lorises"));
        List<SlowLoris> onProgress = Collections.synchronizedList(new ArrayList<>());
        Map<Integer, List<SlowLoris>> onRing = new ConcurrentHashMap<>();
        try (ServerSocket gate = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            gate.setSoTimeout((int) TimeUnit.MINUTES.toMillis(3));
            RankGate watch = new RankGate("127.0.0.1", gate.getLocalPort(), (host, port) -> {
                for (int i = 0; i < LORISES_PER_LISTENER; i++) {
                    onProgress.add(keep(connect(host, port)));
                }
            });
            CompletableFuture<Boolean> progressDropped = CompletableFuture.supplyAsync(
                    () -> holdRanksWhileLorisesAttack(gate, 2, onProgress, onRing));

            TrainingOutcome outcome = TrainingJob.run(SPARK.session(),
                    job(output, "dist.collective_timeout_seconds=30"), null, watch);

            assertTrue(progressDropped.get(1, TimeUnit.MINUTES), "the progress server still held slow-loris clients "
                    + DROP_LIMIT.toSeconds() + " s after they connected");
            assertEquals(LORISES_PER_LISTENER, onProgress.size());
            assertEquals(Map.of(0, LORISES_PER_LISTENER, 1, LORISES_PER_LISTENER),
                    Map.of(0, onRing.get(0).size(), 1, onRing.get(1).size()), "every rank's listener was attacked");
            for (Map.Entry<Integer, List<SlowLoris>> rank : onRing.entrySet()) {
                assertTrue(rank.getValue().stream().anyMatch(SlowLoris::heardFromServer),
                        "rank " + rank.getKey() + "'s listener shook hands with none of the clients queued before it");
                for (SlowLoris loris : rank.getValue()) {
                    assertTrue(loris.awaitClosed(Duration.ofSeconds(10)),
                            "rank " + rank.getKey() + "'s listener still holds a slow-loris client after the job");
                }
            }
            assertEquals(1, outcome.stageAttempts(), "no rank failed to form the ring, so no retry");
            assertEquals(6, outcome.steps());
            assertEquals(output + "/checkpoint-6", outcome.checkpoint());
            SortedMap<String, double[]> saved = TrainingRuns.tensors(outcome.checkpoint());
            assertTrue(!saved.isEmpty() && saved.keySet().stream().allMatch(k -> k.contains("lora_")),
                    saved.keySet().toString());
            assertFalse(outcome.progress().isEmpty(), "rank 0's progress never reached the driver");
            assertEquals(6, outcome.progress().get(outcome.progress().size() - 1).step(),
                    "the last step's progress reached the driver");
        }
    }

    /**
     * The gate's side of {@link RankGate}: takes the ring addresses of {@code world} ranks, queues slow-loris clients
     * at each, waits (up to {@link #DROP_LIMIT}) for the progress server to drop its own, then lets the ranks go on.
     * Returns whether the progress server dropped them all.
     */
    private boolean holdRanksWhileLorisesAttack(ServerSocket gate, int world, List<SlowLoris> onProgress,
                                                Map<Integer, List<SlowLoris>> onRing) {
        List<Socket> held = new ArrayList<>();
        try {
            for (int r = 0; r < world; r++) {
                Socket rank = gate.accept();
                held.add(rank);
                String[] line = new BufferedReader(new InputStreamReader(rank.getInputStream(), StandardCharsets.UTF_8))
                        .readLine().split(" ");
                List<SlowLoris> clients = new ArrayList<>();
                for (int i = 0; i < LORISES_PER_LISTENER; i++) {
                    clients.add(keep(SlowLoris.at(line[1])));
                }
                onRing.put(Integer.parseInt(line[0]), clients);
            }
            boolean dropped = true;
            for (SlowLoris loris : List.copyOf(onProgress)) {
                dropped &= loris.awaitClosed(DROP_LIMIT);
            }
            for (Socket rank : held) {
                OutputStream out = rank.getOutputStream();
                out.write("go\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            return dropped;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (Socket rank : held) {
                try {
                    rank.close();
                } catch (IOException ignored) {
                    // the rank has read its go, or is gone
                }
            }
        }
    }

    /**
     * The rank's side: each rank of the first stage attempt, once its ring listener is bound, sends
     * {@code "<rank> <address>"} to the test's gate and waits for its go. On the driver, the progress server's address
     * goes to {@code onProgressServer}. Later attempts pass straight through.
     */
    private static final class RankGate implements ListenerWatch {
        private final String gateHost;
        private final int gatePort;
        private final transient BiConsumer<String, Integer> onProgressServer;    // the driver's alone

        RankGate(String gateHost, int gatePort, BiConsumer<String, Integer> onProgressServer) {
            this.gateHost = gateHost;
            this.gatePort = gatePort;
            this.onProgressServer = onProgressServer;
        }

        @Override
        public void progressServerListening(String host, int port) {
            onProgressServer.accept(host, port);
        }

        @Override
        public void ringListenerBound(int rank, int stageAttempt, String address) {
            if (stageAttempt > 0) {
                return;
            }
            try (Socket gate = new Socket()) {
                gate.connect(new InetSocketAddress(gateHost, gatePort), 10_000);
                gate.setSoTimeout((int) TimeUnit.MINUTES.toMillis(3));
                OutputStream out = gate.getOutputStream();
                out.write((rank + " " + address + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                new BufferedReader(new InputStreamReader(gate.getInputStream(), StandardCharsets.UTF_8)).readLine();
            } catch (IOException e) {
                throw new UncheckedIOException("the test's gate at " + gateHost + ":" + gatePort + " failed", e);
            }
        }
    }

    /**
     * A rank 0 of an earlier attempt (the zombie, here a thread of the driver with its own claim, the older one) is
     * caught in the middle of a save: past its claim check, its tensors written, held in the create of
     * {@code trainer_state.json} ({@link HoldingFileSystem}). The job then runs, and Spark retries its stage after
     * rank 1's executor is killed; the zombie is let go as soon as the retried attempt has claimed the folder, while
     * that attempt resumes and saves. The zombie's commit, and every later save of its, is refused; the run's newest
     * complete checkpoint is its own, loads, and a rerun resumes from it.
     */
    @Test
    void aZombieWriterOfAnEarlierAttemptCannotCommitWhileTheRetriedAttemptSaves() throws Exception {
        Path out = dir.resolve("zombie-race");
        String output = TrainingRuns.location(out);
        Path signal = dir.resolve("zombie-held");
        Configuration held = HoldingFileSystem.conf(HoldingFileSystem.Operation.CREATE,
                ".*/" + TrainingCheckpoints.STATE_FILE, signal);
        OutputFolder zombieFolder = new OutputFolder(held, HoldingFileSystem.location(out));
        CheckpointFence zombieClaim = CheckpointFence.claim(zombieFolder, 0);
        TrainingCheckpoints zombie = new TrainingCheckpoints(held, zombieFolder.location(), 1).writingAs(zombieClaim);
        CompletableFuture<String> zombieSave = CompletableFuture.supplyAsync(() -> saveAsZombie(zombie, 100));
        assertTrue(HoldingFileSystem.awaitHeld(signal, Duration.ofSeconds(60)), "the zombie never reached its state file");

        CompletableFuture<TrainingOutcome> run = CompletableFuture.supplyAsync(
                () -> TrainingJob.run(SPARK.session(), job(output), new FaultInjection(1, 3)));
        // claims: the zombie's is 1, the first attempt's 2, the retried attempt's 3
        Path retriedClaim = out.resolve("_writer-3");
        while (!Files.exists(retriedClaim)) {
            if (run.isDone()) {
                fail("the job ended before a retried attempt claimed the folder: " + run.handle((o, e) -> o == null
                        ? String.valueOf(e) : "stage attempts " + o.stageAttempts()).get());
            }
            Thread.sleep(20);
        }
        HoldingFileSystem.release(signal);

        ExecutionException refused = assertThrows(ExecutionException.class, () -> zombieSave.get(1, TimeUnit.MINUTES));
        assertInstanceOf(CheckpointException.class, refused.getCause());
        assertTrue(refused.getCause().getMessage().contains("refusing to commit checkpoint-100")
                && refused.getCause().getMessage().contains("superseded"), refused.getCause().getMessage());
        CheckpointException refusedAgain = assertThrows(CheckpointException.class, () -> saveAsZombie(zombie, 101));
        assertTrue(refusedAgain.getMessage().contains("superseded"), refusedAgain.getMessage());

        TrainingOutcome outcome = run.get(5, TimeUnit.MINUTES);
        assertTrue(outcome.stageAttempts() >= 2, "the stage was retried: " + outcome.stageAttempts());
        assertEquals(6, outcome.steps());
        List<String> complete = new TrainingCheckpoints(new Configuration(), output, 2).complete();
        assertEquals(List.of(output + "/checkpoint-4", output + "/checkpoint-6"), complete, "no zombie checkpoint");
        assertEquals(output + "/checkpoint-6", outcome.checkpoint());
        SortedMap<String, double[]> newest = TrainingRuns.tensors(outcome.checkpoint());
        assertTrue(!newest.isEmpty() && newest.keySet().stream().allMatch(k -> k.contains("lora_")),
                "the run's own tensors, not the zombie's: " + newest.keySet());

        TrainingOutcome resumed = TrainingJob.run(SPARK.session(), job(output, "train.max_steps=8"));
        assertEquals(output + "/checkpoint-6", resumed.resumedFrom());
        assertEquals(8, resumed.steps());
        assertEquals(1, resumed.stageAttempts());
    }

    /** The zombie's save of {@code step}: the real checkpoint writer, tensors the run would never write. */
    private static String saveAsZombie(TrainingCheckpoints zombie, long step) {
        try (NDManager manager = NDManager.newBaseManager()) {
            TrainerState state = new TrainerState(step, 0, step, step, OptionalDouble.empty(), 0, Map.of(), Map.of());
            Map<String, NDArray> model = Map.of("zombie.weight", manager.full(new Shape(2, 3), -1f));
            Map<String, NDArray> optimizer = Map.of(TrainingCheckpoints.optimizerTensorName("zombie.weight", "exp_avg"),
                    manager.zeros(new Shape(2, 3)));
            return zombie.save(state, model, optimizer);
        }
    }

    private SlowLoris keep(SlowLoris loris) {
        lorises.add(loris);
        return loris;
    }

    private static SlowLoris connect(String host, int port) {
        try {
            return new SlowLoris(host, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
