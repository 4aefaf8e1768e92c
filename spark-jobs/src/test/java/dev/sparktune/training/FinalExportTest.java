package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.OutputFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rank 0's final export under its stage attempt's claim on the output folder. */
class FinalExportTest {
    @TempDir
    Path dir;

    @Test
    void aWriterSupersededByANewerAttemptCannotReplaceItsExport() throws Exception {
        Path base = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        OutputFolder output = new OutputFolder(new Configuration(), dir.resolve("run").toString());
        ModelDirectory folder = ModelDirectory.open(base);
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = PeftModel.apply(folder.load(manager, DataType.FLOAT32),
                    new Lora(2, 4, 0.0, List.of("q_proj"), false, false, List.of()), manager, 1);
            CheckpointFence zombie = CheckpointFence.claim(output, 0);
            CheckpointFence retried = CheckpointFence.claim(output, 1);
            String export = FinalExport.write(model, "lora", folder, base.toString(), output, List.of(), retried);
            Path adapter = dir.resolve("run/adapter/" + PeftFormat.CONFIG_FILE);
            assertTrue(export.endsWith("/run/adapter"), export);
            long written = Files.getLastModifiedTime(adapter).toMillis();

            CheckpointException refused = assertThrows(CheckpointException.class, () -> FinalExport.write(model,
                    "lora", folder, base.toString(), output, List.of(), zombie));

            assertTrue(refused.getMessage().contains("refusing to replace the export"), refused.getMessage());
            assertEquals(written, Files.getLastModifiedTime(adapter).toMillis(), "the newer attempt's export stays");
            try (Stream<Path> entries = Files.list(dir.resolve("run"))) {
                assertEquals(List.of(), entries.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("."))
                        .toList(), "the refused writer leaves no hidden copy behind");
            }
        }
    }
}
