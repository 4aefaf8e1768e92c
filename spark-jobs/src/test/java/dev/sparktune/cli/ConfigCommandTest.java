package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void validateReferenceFilePrintsTheResolvedConfig() {
        int code = sparktune("config", "validate", "../conf/reference.yaml", "--set", "train.optim=lion");

        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("optim: lion"), out.toString());
        assertTrue(out.toString().contains("lora_target:\n  - all"), out.toString());
        assertEquals("", err.toString());
    }

    @Test
    void validateMisspelledKeyExitsTwoNamingFileKeyAndNearestKey(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("typo.yaml");
        Files.writeString(job, "method:\n  finetuning_type: lora\n  lora_rnak: 16\n");

        int code = sparktune("config", "validate", job.toString());

        assertEquals(2, code);
        assertEquals(job + ": method.lora_rnak (line 3): unknown key; did you mean 'lora_rank'?"
                + " (conf/reference.yaml lists every key)\n1 problem in " + job + "\n", err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void validateAKeyThatIsNotBuiltYetExitsTwoNamingIt(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("overlap.yaml");
        Files.writeString(job, "dist:\n  world_size: 2\n  overlap_comm: true\n");

        int code = sparktune("config", "validate", job.toString());

        assertEquals(2, code);
        assertTrue(err.toString().startsWith(job + ": dist.overlap_comm (line 3): not built yet:"), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void missingCommandIsAUsageErrorListingTheCommands() {
        assertEquals(2, sparktune());
        assertTrue(err.toString().contains("Missing command: choose one of doctor, config, import-onnx"), err.toString());
    }
}
