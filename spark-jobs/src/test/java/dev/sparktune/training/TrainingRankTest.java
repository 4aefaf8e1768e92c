package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a rank's run starts, across separate invocations of the same job (ranks in this process, no Spark). */
class TrainingRankTest {
    @TempDir
    static Path dir;

    private static Path model;
    private static Path data;

    @BeforeAll
    static void writeTinyLlamaAndData() {
        model = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        Random random = new Random(4);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            long[] ids = random.longs(5 + random.nextInt(6), 1, 61).toArray();
            rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        data = dir.resolve("data");
        TrainingRuns.writeTokenized(data, rows, 8);
    }

    private static LoadedConfig job(Path output, String... more) {
        List<String> overrides = new ArrayList<>(List.of("model.model_name_or_path=" + model, "model.compute_dtype=float64",
                "data.tokenized_path=" + data, "method.finetuning_type=lora", "method.lora_rank=2",
                "method.lora_target=q_proj,v_proj", "train.output_dir=" + output, "train.learning_rate=1e-2",
                "train.per_device_train_batch_size=2", "train.max_steps=8", "train.save_steps=3", "train.save_total_limit=5",
                "dist.world_size=2"));
        overrides.addAll(List.of(more));
        return TrainingRuns.config(overrides);
    }

    @Test
    void resumeFromCheckpointStartsASecondInvocationWhereTheFirstOneSavedAndEndsTheSame() throws Exception {
        TrainingRuns.runInProcess(job(dir.resolve("first")));
        Path saved = dir.resolve("first/checkpoint-3");
        TrainingRuns.runInProcess(job(dir.resolve("second"), "train.resume_from_checkpoint=" + saved));

        assertEquals(0.0, TrainingRuns.maxRelativeDifference(TrainingRuns.tensors(dir.resolve("second/checkpoint-8")),
                TrainingRuns.tensors(dir.resolve("first/checkpoint-8"))));
        assertEquals(List.of("checkpoint-6", "checkpoint-8"), folders(dir.resolve("second")),
                "the second run saved only the steps after the one it resumed from");
    }

    @Test
    void theNewestCompleteCheckpointInTheOutputFolderWinsOverResumeFromCheckpoint() throws Exception {
        Path output = dir.resolve("rerun");
        TrainingRuns.runInProcess(job(output, "train.max_steps=8"));
        LoadedConfig again = job(output, "train.resume_from_checkpoint=" + dir.resolve("does-not-exist"));
        assertEquals(TrainingRuns.location(output.resolve("checkpoint-8")),
                TrainingRank.startingPoint(again.job(), OutputFolder.local(output)).orElseThrow());
    }

    @Test
    void theValidationSplitBesideTheTrainingRowsIsEvaluatedEveryEvalSteps() throws Exception {
        Path withValidation = dir.resolve("with-validation");
        try (var files = Files.list(data)) {
            Files.createDirectories(withValidation);
            for (Path f : files.toList()) {
                Files.copy(f, withValidation.resolve(f.getFileName()));
            }
        }
        Random random = new Random(6);
        List<TokenizedRow> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            long[] ids = random.longs(6, 1, 61).toArray();
            held.add(new TokenizedRow(ids, ids.clone(), null, null, null));
        }
        TrainingRuns.writeTokenized(withValidation.resolve("_validation"), held, 1);
        Path output = dir.resolve("validated");
        TrainingRuns.runInProcess(job(output, "data.tokenized_path=" + withValidation, "eval.eval_steps=4"));

        List<StepMetrics> evaluated = MetricsLog.read(output.resolve("metrics.jsonl")).stream()
                .filter(StepMetrics::validated).toList();
        assertEquals(List.of(4L, 8L), evaluated.stream().map(StepMetrics::step).toList());
        assertTrue(evaluated.stream().allMatch(m -> m.validation().get("validation") > 0
                && m.validation().get("validation/train/loss").equals(m.validation().get("validation"))));
    }

    private static List<String> folders(Path output) throws Exception {
        try (var entries = Files.list(output)) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted().toList();
        }
    }
}
