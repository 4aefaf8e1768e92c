package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The app jar spark-submit ships to executors: it leaves out what a cluster provides, carries renamed copies of the
 * libraries a cluster also has, one logging binding at most (Spark's: none of its own), and the CPU libtorch, so no
 * executor downloads anything.
 */
@Tag("integration")
class AppJarIT {
    private static final Path APP_JAR = Path.of("target", "sparktune-app.jar");
    private static final String SHADED = "dev/sparktune/shaded/";

    private static Set<String> entries;

    @BeforeAll
    static void listTheJar() throws IOException {
        entries = new TreeSet<>();
        try (ZipFile jar = new ZipFile(APP_JAR.toFile())) {
            Collections.list(jar.entries()).forEach(e -> entries.add(e.getName()));
        }
    }

    @Test
    void whatTheClusterProvidesIsLeftOut() {
        assertNoEntryUnder("org/apache/spark/", "scala/", "org/apache/hadoop/", "org/apache/parquet/");
    }

    @Test
    void librariesAClusterAlsoHasTravelOnlyUnderRenamedPackages() {
        List<String> renamed = List.of("com/google/common/", "com/google/gson/", "com/fasterxml/jackson/",
                "it/unimi/dsi/fastutil/", "kotlin/", "okio/", "org/yaml/snakeyaml/", "org/apache/commons/lang3/",
                "org/apache/commons/io/", "org/apache/commons/codec/", "org/apache/commons/compress/",
                "org/eclipse/jetty/", "org/jsoup/");
        assertNoEntryUnder(renamed.toArray(String[]::new));
        for (String library : renamed) {
            assertTrue(entries.stream().anyMatch(e -> e.startsWith(SHADED + library) && e.endsWith(".class")),
                    "no renamed copy of " + library + ": the relocation list and the dependencies disagree");
        }
    }

    @Test
    void noLoggingOfItsOwn() {
        assertNoEntryUnder("org/slf4j/", "org/apache/logging/", "org/apache/log4j/", "org/apache/commons/logging/",
                "ch/qos/logback/");
        long bindings = entries.stream().filter(e -> e.equals("META-INF/services/org.slf4j.spi.SLF4JServiceProvider")
                || e.equals("org/slf4j/impl/StaticLoggerBinder.class")).count();
        assertTrue(bindings <= 1, bindings + " SLF4J bindings");
    }

    @Test
    void theCpuLibtorchTravelsInTheJar() {
        assertTrue(entries.contains("pytorch/cpu/linux-x86_64/libtorch_cpu.so"), "no libtorch in the app jar");
        assertTrue(entries.contains("native/lib/pytorch.properties"), "no libtorch version file in the app jar");
    }

    @Test
    void everyServiceNamesAClassInTheJarUnderItsRenamedName() throws IOException {
        List<String> missing = new ArrayList<>();
        try (ZipFile jar = new ZipFile(APP_JAR.toFile())) {
            for (String name : entries) {
                if (!name.startsWith("META-INF/services/") || name.endsWith("/")) {
                    continue;
                }
                for (String provider : serviceProviders(jar, jar.getEntry(name))) {
                    if (!entries.contains(provider.replace('.', '/') + ".class")) {
                        missing.add(name + " -> " + provider);
                    }
                }
            }
        }
        assertEquals(List.of(), missing);
    }

    /**
     * Lingua (Kotlin, with Kotlin reflection reading its models through Moshi), Jackson and SnakeYAML under their
     * renamed packages still work: a prep job with a language filter, through bin/sparktune on the app jar.
     */
    @Test
    void renamedLibrariesStillWorkInAPrepWithALanguageFilter(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("data.jsonl"), """
                {"instruction": "Name the capital of France.", "output": "Paris is the capital of France, a large city on the Seine."}
                {"instruction": "Nenne die Hauptstadt von Frankreich.", "output": "Paris ist die Hauptstadt von Frankreich und liegt an der Seine."}
                {"instruction": "Describe the weather in a sentence.", "output": "The weather today is sunny with a light breeze from the west."}
                """);
        Files.writeString(dir.resolve("dataset_info.yaml"), "mixed:\n  file_name: data.jsonl\n");
        Path job = Files.writeString(dir.resolve("job.yaml"), """
                data:
                  dataset: [mixed]
                  dataset_dir: %1$s
                  dataset_info: %1$s/dataset_info.yaml
                  prepared_path: %1$s/prepared
                  languages: [en]
                  detect_languages: [de]
                  dedup: false
                  tokenize: false
                method:
                  stage: sft
                train:
                  output_dir: %1$s/run
                """.formatted(dir));
        Process prep = new ProcessBuilder(Path.of("..", "bin", "sparktune").toString(), "prep", job.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("prep.log").toFile()).start();
        assertTrue(prep.waitFor(3, TimeUnit.MINUTES), "sparktune prep did not finish");
        String log = Files.readString(dir.resolve("prep.log"));
        assertEquals(0, prep.exitValue(), log);
        assertTrue(log.contains("clean    in 3  out 2  rejected 1"), log);
    }

    private static List<String> serviceProviders(ZipFile jar, ZipEntry file) throws IOException {
        List<String> providers = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(jar.getInputStream(file),
                StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                String provider = line.replaceFirst("#.*", "").trim();
                if (!provider.isEmpty()) {
                    providers.add(provider);
                }
            }
        }
        return providers;
    }

    private static void assertNoEntryUnder(String... prefixes) {
        for (String prefix : prefixes) {
            List<String> found = entries.stream().filter(e -> e.startsWith(prefix)).limit(5).toList();
            assertEquals(List.of(), found, "the app jar carries " + prefix);
        }
    }
}
