package dev.sparktune.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.ingest.DatasetRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's job: the packaged example with the demo's paths, written so that a rerun finds it unchanged. */
class DemoJobTest {
    private static final Path EXAMPLE = Path.of("..", "conf", "examples", "spam-assassin-demo.yaml");

    @Test
    void theJobIsTheExampleWithEveryPathUnderOutAndTheRegistryPointsAtTheCorpus(@TempDir Path dir) throws Exception {
        Path corpus = Files.createDirectories(dir.resolve("corpus/package/data"));
        DemoJob.Layout layout = new DemoJob.Layout(dir.resolve("out"));
        JobConfig job = DemoJob.write(layout, corpus, dir.resolve("model"), null, List.of()).job();

        JobConfig example = ConfigLoader.load(EXAMPLE, List.of()).job();
        assertEquals(example.method(), job.method());
        assertEquals(example.train().learningRate(), job.train().learningRate());
        assertEquals(example.data().dataset(), job.data().dataset());
        assertEquals(layout.prepared().toString(), job.data().preparedPath());
        assertEquals(layout.run().toString(), job.train().outputDir());
        assertEquals(layout.merged().toString(), job.export().exportDir());
        assertEquals(0.0, job.data().prep().backTranslationRatio());

        DatasetRegistry registry = DatasetRegistry.load(DatasetRegistry.location(job.data()), new Configuration());
        String ham = registry.get("ham").fileName();
        assertTrue(ham.startsWith(corpus.toAbsolutePath() + "/{easy-ham-1"), ham);
        for (String name : registry.names()) {
            if (registry.get(name).fileName().contains("spam-assassin")) {
                assertTrue(registry.get(name).fileName().startsWith(corpus.toAbsolutePath() + "/"), name);
            }
        }

        LoadedConfig reread = ConfigLoader.load(layout.out().resolve(DemoJob.JOB_FILE), List.of());
        assertEquals(job, reread.job());
    }

    @Test
    void aRerunLeavesTheRegistryUntouchedSoPrepIsNotRerun(@TempDir Path dir) throws Exception {
        Path corpus = Files.createDirectories(dir.resolve("corpus"));
        DemoJob.Layout layout = new DemoJob.Layout(dir.resolve("out"));
        DemoJob.write(layout, corpus, dir.resolve("model"), null, List.of());
        Path registry = layout.out().resolve(DemoJob.REGISTRY_FILE);
        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(registry, old);

        DemoJob.write(layout, corpus, dir.resolve("model"), null, List.of("train.num_train_epochs=1"));

        assertEquals(old, Files.getLastModifiedTime(registry));
    }

    @Test
    void aTranslatorTurnsOnBackTranslationAndABadOverrideNamesItsKey(@TempDir Path dir) {
        DemoJob.Layout layout = new DemoJob.Layout(dir.resolve("out"));
        JobConfig job = DemoJob.write(layout, dir, dir.resolve("model"), "http://127.0.0.1:2737", List.of()).job();
        assertEquals(0.5, job.data().prep().backTranslationRatio());
        assertEquals("http://127.0.0.1:2737", job.data().prep().translatorUrl());

        ConfigException e = assertThrows(ConfigException.class,
                () -> DemoJob.write(layout, dir, dir.resolve("model"), null, List.of("train.learning_rat=1")));
        assertTrue(e.getMessage().contains("learning_rat"), e.getMessage());
    }
}
