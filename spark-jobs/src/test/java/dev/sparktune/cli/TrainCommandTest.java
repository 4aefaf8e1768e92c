package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sparktune train} on jobs it must refuse, each with exit code 2 and what to change. */
class TrainCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void aMisspelledKeyIsNamedBeforeAnySparkStarts(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("typo.yaml");
        Files.writeString(job, "dist:\n  world_sise: 2\n");

        assertEquals(2, sparktune("train", job.toString()));
        assertTrue(err.toString().startsWith(job + ": dist.world_sise (line 2): unknown key; did you mean 'world_size'?"),
                err.toString());
    }

    @Test
    void aJobWithoutTokenizedDataSaysWhichKeyToSetBeforeAnySparkStarts(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "model:\n  model_name_or_path: " + dir + "\n");

        assertEquals(2, sparktune("train", job.toString(), "--set", "train.output_dir=" + dir.resolve("out")));
        assertTrue(err.toString().contains("train: data.tokenized_path is not set"), err.toString());
        assertEquals("", out.toString());
    }
}
