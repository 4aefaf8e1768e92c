package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sparktune prep} end to end on local Spark: config, --set, --partition, the committed folder. */
@Tag("integration")
class PrepCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void prepWritesOnePartitionAndPrintsTheStageCounts(@TempDir Path dir) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("dataset_info.yaml"), "demo:\n  file_name: demo.jsonl\n");
        Files.writeString(data.resolve("demo.jsonl"), """
                {"instruction": "Say hi", "output": "hi"}
                {"instruction": "Say bye"}
                {"instruction": "Count", "input": "1 2", "output": "3"}
                """);
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "data:\n  dataset: demo\n  dataset_dir: " + data.toUri() + "\n");
        Path prepared = dir.resolve("prepared");

        int code = sparktune("prep", job.toString(), "--set", "data.prepared_path=" + prepared.toUri(),
                "--partition", "dt=2026-11-28");

        assertEquals(0, code, err.toString());
        assertTrue(out.toString().startsWith("ingest   in 3  out 2  rejected 1\n"
                + "clean    in 2  out 2  rejected 0\n"
                + "dedup    in 2  out 2  rejected 0\n"
                + "split    in 2  out 2  rejected 0\n"
                + "Wrote 2 rows to "), out.toString());
        Path partition = prepared.resolve("dt=2026-11-28");
        assertTrue(Files.exists(partition.resolve("_SUCCESS")));
        assertTrue(Files.exists(partition.resolve("part-00000.parquet")));
        assertTrue(Files.readString(partition.resolve("_report.json")).contains("\"partition\": \"dt=2026-11-28\""));
    }

    @Test
    void prepWithoutPreparedPathSaysWhichKeyToSet(@TempDir Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "data:\n  dataset: demo\n");

        int code = sparktune("prep", job.toString(), "--partition", "dt=bad/value");

        assertEquals(2, code);
        assertTrue(err.toString().startsWith("prep: partition 'dt=bad/value' is not column=value"), err.toString());

        err.getBuffer().setLength(0);
        assertEquals(2, sparktune("prep", job.toString()));
        assertTrue(err.toString().startsWith("prep: data.prepared_path is not set"), err.toString());
    }
}
