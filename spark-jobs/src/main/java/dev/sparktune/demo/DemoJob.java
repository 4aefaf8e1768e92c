package dev.sparktune.demo;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The job {@code sparktune demo} runs: {@code conf/examples/spam-assassin-demo.yaml} and its registry
 * {@code conf/examples/dataset_info.yaml}, packaged in the jar as they are in the repository, with every path pointed
 * at the demo's own folders. Both files are written to the output folder, so that the run can be repeated or changed
 * with {@code sparktune run <out>/job.yaml}.
 */
public final class DemoJob {
    public static final String JOB_FILE = "job.yaml";
    public static final String REGISTRY_FILE = "dataset_info.yaml";
    static final String JOB_RESOURCE = "spam-assassin-demo.yaml";
    /** Where the example registry expects the corpus: the repository's .data folder, as .ci/run unpacks it. */
    static final String CORPUS_IN_REGISTRY = ".data/spam-assassin/package/data/";

    /** The demo's folders under its output folder. */
    public record Layout(Path out) {
        public Layout {
            out = out.toAbsolutePath().normalize();
        }

        public Path prepared() {
            return out.resolve("prepared");
        }

        public Path tokenized() {
            return out.resolve("tokenized");
        }

        public Path run() {
            return out.resolve("run");
        }

        public Path merged() {
            return out.resolve("merged");
        }

        public Path adapter() {
            return out.resolve("adapter");
        }
    }

    private DemoJob() {
    }

    /**
     * Writes the registry and the resolved job into {@code layout.out()} and returns the job.
     *
     * @param corpus     the corpus's data folder ({@link SpamAssassinCorpus#dataFolder})
     * @param model      the all-MiniLM-L6-v2 folder
     * @param translator an Apertium server's base URL for back-translating training e-mails, or null
     * @param overrides  {@code section.key=value} overrides the user gave, applied last
     */
    public static LoadedConfig write(Layout layout, Path corpus, Path model, String translator,
                                     List<String> overrides) {
        Path registry = layout.out().resolve(REGISTRY_FILE);
        String registryText = resource(REGISTRY_FILE);
        if (!registryText.contains(CORPUS_IN_REGISTRY)) {
            throw new IllegalStateException(REGISTRY_FILE + " no longer names the corpus under " + CORPUS_IN_REGISTRY);
        }
        List<String> settings = new ArrayList<>(List.of(
                "data.dataset_dir=" + layout.out(),
                "data.dataset_info=" + registry,
                "data.prepared_path=" + layout.prepared(),
                "data.tokenized_path=" + layout.tokenized(),
                "model.model_name_or_path=" + model.toAbsolutePath().normalize(),
                "train.output_dir=" + layout.run(),
                "export.export_dir=" + layout.merged()));
        if (translator != null) {
            settings.addAll(List.of("data.back_translation_ratio=0.5", "data.translator=apertium",
                    "data.translator_url=" + translator));
        }
        settings.addAll(overrides);
        LoadedConfig config = ConfigLoader.parse(resource(JOB_RESOURCE), JOB_RESOURCE, settings);
        try {
            Files.createDirectories(layout.out());
            writeIfChanged(registry, registryText.replace(CORPUS_IN_REGISTRY,
                    corpus.toAbsolutePath().normalize() + "/"));
            writeIfChanged(layout.out().resolve(JOB_FILE), "# Written by sparktune demo: " + JOB_RESOURCE
                    + " with the demo's paths, every key resolved.\n" + config.toYaml());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo's job into " + layout.out(), e);
        }
        return config;
    }

    /**
     * Leaves a file with the same text untouched: prep's fingerprint covers the registry's modification time, and a
     * rewritten registry would rerun prep on every demo.
     */
    private static void writeIfChanged(Path file, String text) throws IOException {
        if (!Files.isRegularFile(file) || !Files.readString(file).equals(text)) {
            Files.writeString(file, text);
        }
    }

    private static String resource(String name) {
        try (InputStream in = DemoJob.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is not in the jar; rebuild with mvn package");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name + " from the jar", e);
        }
    }
}
