package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.JobConfig;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver's reading of what a job trains on, and every check that must fail before the barrier stage. */
class TrainingInputsTest {
    private final Configuration conf = new Configuration();

    private static List<TokenizedRow> classRows(int n, int classes) {
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            rows.add(new TokenizedRow(new long[] {1, 2, 3, i}, null, null, (long) (i % classes), null));
        }
        return rows;
    }

    private static JobConfig job(Path data, String... overrides) {
        List<String> all = new ArrayList<>(List.of("data.tokenized_path=" + data, "method.stage=cls",
                "dist.world_size=2", "train.per_device_train_batch_size=2"));
        all.addAll(List.of(overrides));
        return TrainingRuns.config(all).job();
    }

    @Test
    void taskFoldersBecomeTasksInNameOrderWithTheirLabelsAndValidation(@TempDir Path dir) {
        Path data = dir.resolve("tokenized");
        TrainingRuns.writeTokenized(data.resolve("task=topic"), classRows(12, 3), 4);
        new LabelsFile(List.of("food", "sport", "tech")).write(conf, data.resolve("task=topic").toString());
        TrainingRuns.writeTokenized(data.resolve("task=spam"), classRows(12, 2), 4);
        new LabelsFile(List.of("ham", "spam")).write(conf, data.resolve("task=spam").toString());
        TrainingRuns.writeTokenized(data.resolve("_validation/task=spam"), classRows(4, 2), 1);
        new LabelsFile(List.of("ham", "spam")).write(conf, data.resolve("_validation/task=spam").toString());
        // the test split, with a task of its own: never trained on nor validated with
        TrainingRuns.writeTokenized(data.resolve("_test/task=spam"), classRows(4, 2), 1);
        TrainingRuns.writeTokenized(data.resolve("_test/task=held"), classRows(4, 2), 1);

        TrainingInputs inputs = TrainingInputs.read(job(data), conf, Map.of());

        assertEquals(List.of("spam", "topic"), inputs.tasks().stream().map(TrainingInputs.Task::name).toList());
        assertEquals(List.of("ham", "spam"), inputs.tasks().get(0).labels());
        assertEquals(List.of("food", "sport", "tech"), inputs.tasks().get(1).labels());
        assertEquals(List.of("spam"), inputs.validation().stream().map(TrainingInputs.Task::name).toList());
        assertTrue(inputs.validation().get(0).folder().contains("_validation/task=spam"), inputs.toString());
        assertTrue(inputs.tasks().stream().noneMatch(t -> t.folder().contains("_test")), inputs.toString());
        assertEquals("classifier", TrainingRank.head(inputs.tasks(), "spam"));
        assertEquals("classifier_topic", TrainingRank.head(inputs.tasks(), "topic"));
    }

    @Test
    void aFolderWithoutTaskFoldersIsOneTaskAndHasNoValidation(@TempDir Path dir) {
        TrainingRuns.writeTokenized(dir.resolve("flat"), classRows(8, 2), 2);
        new LabelsFile(List.of("a", "b")).write(conf, dir.resolve("flat").toString());
        TrainingRuns.writeTokenized(dir.resolve("flat/_test"), classRows(4, 2), 1);
        TrainingInputs inputs = TrainingInputs.read(job(dir.resolve("flat")), conf, Map.of());
        assertEquals(List.of(TrainingInputs.SINGLE_TASK), inputs.tasks().stream().map(TrainingInputs.Task::name).toList());
        assertEquals(List.of(), inputs.validation());
        // the trainer reads the 8 rows of the folder itself, not the 4 of _test/ inside it
        assertEquals(8, TokenizedParquet.rowGroups(conf, inputs.tasks().get(0).folder()).stream()
                .mapToLong(TokenizedParquet.RowGroup::rows).sum());
    }

    @Test
    void missingOrEmptyDataFailsNamingTheKeyAndWhatToRun(@TempDir Path dir) throws Exception {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("nothing-here")), conf, Map.of()));
        assertTrue(missing.getMessage().contains("data.tokenized_path") && missing.getMessage().contains("sparktune prep"),
                missing.getMessage());
        Files.createDirectories(dir.resolve("empty/task=a"));
        TrainingRuns.commit(dir.resolve("empty"));
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("empty")), conf, Map.of()));
        assertTrue(empty.getMessage().contains("holds no tokenized rows"), empty.getMessage());
    }

    /**
     * A folder whose commit did not finish (a part file missing, as an s3a rename stopped half-way leaves it; only
     * Spark's empty marker; no marker) is refused before the stage, saying to rerun prep, instead of trained on in
     * part.
     */
    @Test
    void aTokenizedFolderWithoutACompleteCommitMarkerIsRefusedSayingToRerunPrep(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("tokenized");
        TrainingRuns.writeTokenized(data.resolve("task=spam"), classRows(12, 2), 4);
        new LabelsFile(List.of("ham", "spam")).write(conf, data.resolve("task=spam").toString());
        assertEquals(1, TrainingInputs.read(job(data), conf, Map.of()).tasks().size(), "the premise: it trains");

        Files.delete(data.resolve("task=spam/part-03.parquet"));
        IllegalArgumentException partial = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(data), conf, Map.of()));
        assertTrue(partial.getMessage().contains("data.tokenized_path " + data + " is not a complete `sparktune prep`"
                + " output: task=spam/part-03.parquet is missing"), partial.getMessage());
        assertTrue(partial.getMessage().contains("Rerun `sparktune prep`"), partial.getMessage());

        TrainingRuns.commit(data);
        Files.writeString(data.resolve("_SUCCESS"), "");    // Spark's own marker: no list of files
        IllegalArgumentException sparks = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(data), conf, Map.of()));
        assertTrue(sparks.getMessage().contains("does not list the committed files"), sparks.getMessage());

        Files.delete(data.resolve("_SUCCESS"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(data), conf, Map.of()));
        assertTrue(none.getMessage().contains("has no _SUCCESS marker"), none.getMessage());
    }

    @Test
    void dataInTooFewRowGroupsForTheRanksFailsWithWhatToChange(@TempDir Path dir) {
        TrainingRuns.writeTokenized(dir.resolve("one-group"), classRows(20, 2), 1);
        new LabelsFile(List.of("a", "b")).write(conf, dir.resolve("one-group").toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("one-group")), conf, Map.of()));
        assertTrue(e.getMessage().contains("the smallest share of task 'train' holds 0 of 20 rows"), e.getMessage());
        assertTrue(e.getMessage().contains("write the data in more row groups"), e.getMessage());

        TrainingRuns.writeTokenized(dir.resolve("two-groups"), classRows(20, 2), 2);
        new LabelsFile(List.of("a", "b")).write(conf, dir.resolve("two-groups").toString());
        assertEquals(1, TrainingInputs.read(job(dir.resolve("two-groups")), conf, Map.of()).tasks().size());
    }

    @Test
    void badLabelsFailBeforeTraining(@TempDir Path dir) {
        TrainingRuns.writeTokenized(dir.resolve("no-labels"), classRows(8, 2), 2);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("no-labels")), conf, Map.of()));
        assertTrue(none.getMessage().contains("needs the task's _labels.json"), none.getMessage());

        TrainingRuns.writeTokenized(dir.resolve("out-of-range"), classRows(8, 3), 2);
        new LabelsFile(List.of("a", "b")).write(conf, dir.resolve("out-of-range").toString());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("out-of-range")), conf, Map.of()));
        assertTrue(range.getMessage().contains("a row has label 2, but _labels.json names 2 classes"), range.getMessage());

        IllegalArgumentException stage = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job(dir.resolve("out-of-range"), "method.stage=sft"), conf, Map.of()));
        assertTrue(stage.getMessage().contains("set method.stage: cls"), stage.getMessage());
    }

    @Test
    void perDatasetInterleaveProbabilitiesAddUpPerTask(@TempDir Path dir) {
        Path data = dir.resolve("tokenized");
        for (String task : List.of("filter", "topic")) {
            TrainingRuns.writeTokenized(data.resolve("task=" + task), classRows(12, 2), 4);
            new LabelsFile(List.of("a", "b")).write(conf, data.resolve("task=" + task).toString());
        }
        JobConfig job = job(data, "data.dataset=ham,spam,topic", "data.mix_strategy=interleave_over",
                "data.interleave_probs=0.3,0.2,0.5");
        TrainingInputs inputs = TrainingInputs.read(job, conf, Map.of("ham", "filter", "spam", "filter",
                "topic", "topic"));
        assertEquals(List.of(0.5, 0.5), inputs.mix().probabilities());

        IllegalArgumentException unmapped = assertThrows(IllegalArgumentException.class,
                () -> TrainingInputs.read(job, conf, Map.of()));
        assertTrue(unmapped.getMessage().contains("dataset 'ham' (task 'ham') has no rows"), unmapped.getMessage());
        assertTrue(TrainingInputs.read(job(data), conf, Map.of()).mix().probabilities().isEmpty());
    }
}
