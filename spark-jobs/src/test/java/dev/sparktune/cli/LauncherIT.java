package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.testing.ApertiumServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** bin/sparktune as a user runs it: a separate process on the built app jar. */
@Tag("integration")
class LauncherIT {
    private static final Path LAUNCHER = Path.of("..", "bin", "sparktune").toAbsolutePath().normalize();

    @RegisterExtension
    static final ApertiumServer apertium = new ApertiumServer();

    record Run(int exitCode, String stdout, String stderr) {
    }

    private static Run sparktune(String... args) throws IOException, InterruptedException {
        return sparktune(Map.of(), args);
    }

    private static Run sparktune(Map<String, String> environment, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        Path stdout = Files.createTempFile("sparktune-out", ".txt");
        Path stderr = Files.createTempFile("sparktune-err", ".txt");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
        builder.environment().putAll(environment);
        Process p = builder.start();
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "bin/sparktune " + String.join(" ", args) + " did not finish");
        Run run = new Run(p.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8));
        Files.delete(stdout);
        Files.delete(stderr);
        return run;
    }

    @Test
    void versionNamesTheBuild() throws Exception {
        Run run = sparktune("--version");
        assertEquals(0, run.exitCode(), run.stderr());
        assertTrue(run.stdout().startsWith("sparktune " + BuildInfo.version()), run.stdout());
        assertTrue(run.stdout().contains("Spark 4.0.1"), run.stdout());
        assertEquals("", run.stderr(), "no JVM warning (bin/sparktune leaves out the incubator Vector API module)");
    }

    @Test
    void jemallocIsPreloadedOnRequest() throws Exception {
        // stats_print: jemalloc prints its statistics at exit, which only happens if it is the allocator in use
        Run run = sparktune(Map.of("SPARKTUNE_ALLOCATOR", "jemalloc", "MALLOC_CONF", "stats_print:true"), "--version");
        assertEquals(0, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("jemalloc statistics"), run.stderr());

        Run wrong = sparktune(Map.of("SPARKTUNE_ALLOCATOR", "tcmalloc"), "--version");
        assertEquals(1, wrong.exitCode());
        assertEquals("SPARKTUNE_ALLOCATOR is glibc or jemalloc, not 'tcmalloc'\n", wrong.stderr());
    }

    @Test
    void launcherPassesSparksOwnJavaOptions() throws Exception {
        String recorded = Files.readString(Path.of("target", "launcher", "java-options")).trim();
        assertEquals(JavaModuleOptions.defaultModuleOptions(), recorded);
    }

    @Test
    void doctorPassesEveryCheckOnThisMachineIncludingARealTranslator() throws Exception {
        Run run = sparktune("doctor", "--translator", apertium.url().toString());

        System.out.println(run.stdout());
        assertEquals(0, run.exitCode(), run.stdout() + run.stderr());
        assertTrue(run.stdout().contains("[ok]   Java"), run.stdout());
        assertTrue(run.stdout().contains("[ok]   PyTorch     2.7.1 via DJL 0.36.0, offline"), run.stdout());
        assertTrue(run.stdout().contains("[ok]   Spark       4.0.1 on local[1]"), run.stdout());
        assertTrue(run.stdout().contains("[ok]   Translator  Apertium APY"), run.stdout());
        assertTrue(run.stdout().contains("All 4 checks passed."), run.stdout());
    }

    @Test
    void doctorFailsAndSaysWhatToFixWhenTheTranslatorIsDown() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Run run = sparktune("doctor", "--translator", "http://127.0.0.1:" + closed);

        assertEquals(1, run.exitCode(), run.stdout() + run.stderr());
        assertTrue(run.stdout().contains("[FAIL] Translator  nothing answers at http://127.0.0.1:" + closed), run.stdout());
        assertTrue(run.stdout().contains("fix: start a server"), run.stdout());
        assertTrue(run.stdout().contains("1 of 4 checks failed."), run.stdout());
    }

    @Test
    void importOnnxWritesAHuggingFaceFolderOfMiniLm(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("all-MiniLM-L6-v2");
        Run run = sparktune("import-onnx", "--out", out.toString());

        assertEquals(0, run.exitCode(), run.stdout() + run.stderr());
        assertTrue(run.stdout().contains("BERT, 6 layers, hidden 384, 12 heads, 22.6M parameters"), run.stdout());
        for (String file : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            assertTrue(Files.isRegularFile(out.resolve(file)), file);
        }
    }

    @Test
    void configValidateAcceptsTheReferenceAndRejectsATypo(@TempDir Path dir) throws Exception {
        Run ok = sparktune("config", "validate", "../conf/reference.yaml");
        assertEquals(0, ok.exitCode(), ok.stderr());
        assertTrue(ok.stdout().contains("learning_rate: 5.0e-05"), ok.stdout());

        Path typo = dir.resolve("job.yaml");
        Files.writeString(typo, "train:\n  learning_rat: 1.0e-4\n");
        Run bad = sparktune("config", "validate", typo.toString());
        assertEquals(2, bad.exitCode(), bad.stdout());
        assertTrue(bad.stderr().contains(typo + ": train.learning_rat (line 2): unknown key; did you mean 'learning_rate'?"),
                bad.stderr());
    }
}
