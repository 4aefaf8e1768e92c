package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code sparktune run} refuses before it starts Spark. */
class RunCommandTest {

    @Test
    void unknownStepsExitTwoNamingThemAndTheKnownSteps(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "train: {output_dir: " + dir.resolve("run") + "}\n");

        GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", "run", job.toString(), "--steps",
                "prep,tune,evaluate");

        assertEquals(2, run.exitCode());
        assertEquals("run: unknown steps tune, evaluate in --steps; the steps are prep, train, eval, export\n",
                run.stderr());
        assertEquals("", run.stdout());
    }

    @Test
    void aStepsMissingKeyExitsTwoNamingIt(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "data: {tokenized_path: " + dir.resolve("tokenized") + "}\n");

        GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", "run", job.toString(), "--steps", "train");

        assertEquals(2, run.exitCode());
        assertEquals("run: model.model_name_or_path is not set: name the model folder to fine-tune\n", run.stderr());
    }

    @Test
    void aPartitionThatIsNotOneFolderNameExitsTwo(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "train: {output_dir: " + dir.resolve("run") + "}\n");

        GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", "run", job.toString(), "--partition",
                "dt=../escape");

        assertEquals(2, run.exitCode());
        assertTrue(run.stderr().startsWith("run: partition 'dt=../escape' is not column=value with a column of"),
                run.stderr());
    }
}
