package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DataConfig;
import dev.sparktune.ingest.DatasetRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** The job YAMLs in conf/examples/ validate, and every dataset they name is in the registry they point at. */
class ConfExamplesTest {
    /** The repository root: the examples' relative paths are relative to it. */
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    void everyExampleValidatesAndNamesRegisteredDatasets() throws IOException {
        List<Path> jobs;
        try (Stream<Path> files = Files.list(ROOT.resolve("conf/examples"))) {
            jobs = files.filter(f -> f.toString().endsWith(".yaml") && !f.endsWith("dataset_info.yaml")).sorted()
                    .toList();
        }
        assertFalse(jobs.isEmpty());
        for (Path job : jobs) {
            GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", "config", "validate", job.toString());
            assertEquals(0, run.exitCode(), job + ":\n" + run.stderr());

            DataConfig data = ConfigLoader.load(job, List.of()).job().data();
            org.apache.hadoop.fs.Path registry = new org.apache.hadoop.fs.Path(ROOT.toString(),
                    DatasetRegistry.location(data).toString());
            DatasetRegistry datasets = DatasetRegistry.load(registry, new Configuration());
            assertFalse(data.dataset().isEmpty(), job.toString());
            for (String name : data.dataset()) {
                assertTrue(datasets.names().contains(name), job + " names " + name + ", not in " + registry);
            }
        }
    }

    @Test
    void theSftExamplesDataIsThere() {
        assertTrue(Files.isRegularFile(ROOT.resolve("conf/examples/data/alpaca_demo.jsonl")));
    }
}
