package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.FolderCommit;
import dev.sparktune.testing.HoldingFileSystem;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code sparktune prep} killed with SIGKILL in the middle of committing its output: the run that replaces a
 * complete output (v1) with new data (v2) is a separate JVM, stopped at one point of {@link FolderCommit}'s steps by
 * {@link HoldingFileSystem} (its output is on {@code holdfs:}) and then killed there by this test. A reader then
 * finds the previous complete output (kept aside, its marker checked, its rows those of v1) or the new complete one
 * (its rows those of v2), never a mix; the next run takes over the dead run's lease (its process is gone from this
 * host) and puts everything right. (FolderCommitContract stops a commit after each step in-process; this is the same with
 * a real kill of a real prep job.)
 */
@Tag("integration")
class PrepKilledMidCommitProcessTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.local(2);

    @TempDir
    static Path dir;

    private static Path job;
    private static String expectedV1;
    private static String expectedV2;

    /** Where the killed run is stopped, and what a reader must find there. */
    enum KillPoint {
        /** The previous output renamed aside, the new one not yet in place. */
        BEFORE_THE_NEW_OUTPUT_IS_RENAMED_IN(HoldingFileSystem.Operation.RENAME_TO, "", false),
        /** The new output in place, its marker not yet written. */
        BEFORE_THE_MARKER(HoldingFileSystem.Operation.CREATE, "/" + CommitMarker.NAME, false),
        /** The new output committed, the previous one not yet deleted. */
        BEFORE_THE_PREVIOUS_OUTPUT_IS_DELETED(HoldingFileSystem.Operation.DELETE, null, true);

        final HoldingFileSystem.Operation operation;
        final String underTarget;    // null: the kept previous output
        final boolean newOutputComplete;

        KillPoint(HoldingFileSystem.Operation operation, String underTarget, boolean newOutputComplete) {
            this.operation = operation;
            this.underTarget = underTarget;
            this.newOutputComplete = newOutputComplete;
        }

        String pathRegex(Path target) {
            String t = target.toAbsolutePath().toString();
            return underTarget != null ? Pattern.quote(t + underTarget)
                    : Pattern.quote(target.getParent().toAbsolutePath() + "/_previous-" + target.getFileName() + "-")
                    + ".*";
        }
    }

    @BeforeAll
    static void writeDatasetsAndReferenceOutputs() throws IOException {
        Path data = dir.resolve("data");
        Files.createDirectories(data);
        Files.write(data.resolve("v1.jsonl"), records("first", 20), StandardCharsets.UTF_8);
        Files.write(data.resolve("v2.jsonl"), records("second", 30), StandardCharsets.UTF_8);
        Files.writeString(data.resolve("dataset_info.yaml"), "v1:\n  file_name: v1.jsonl\nv2:\n  file_name: v2.jsonl\n");
        job = dir.resolve("job.yaml");
        Files.writeString(job, String.join("\n", "data:", "  dataset: [v1]", "  dataset_dir: " + data, ""));
        // what each version's output holds, written by prep runs that nobody stops
        prepInProcess(dir.resolve("reference-v1"), "v1");
        prepInProcess(dir.resolve("reference-v2"), "v2");
        expectedV1 = rows(dir.resolve("reference-v1"));
        expectedV2 = rows(dir.resolve("reference-v2"));
        assertNotEquals(expectedV1, expectedV2);
    }

    @ParameterizedTest
    @EnumSource(KillPoint.class)
    void aPrepKilledMidCommitLeavesThePreviousOutputOrTheCompleteNewOneAndTheNextRunRecovers(KillPoint point)
            throws Exception {
        Path target = dir.resolve("prepared-" + point.name().toLowerCase(Locale.ROOT));
        prepInProcess(target, "v1");

        Path signal = dir.resolve("held-" + point.name().toLowerCase(Locale.ROOT));
        Process killed = startPrep(target, "v2", point, signal);
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!HoldingFileSystem.awaitHeld(signal, Duration.ofMillis(200))) {
                if (!killed.isAlive() || System.nanoTime() > deadline) {
                    fail("the prep process never reached the commit step: " + logText(signal));
                }
            }
            killed.destroyForcibly();          // SIGKILL: no finally blocks, no shutdown hooks
            assertTrue(killed.waitFor(30, TimeUnit.SECONDS));
        } finally {
            killed.destroyForcibly();
        }

        FileSystem fs = FileSystem.getLocal(new Configuration());
        org.apache.hadoop.fs.Path qualified = hadoopPath(target);
        Optional<String> problem = FolderCommit.problem(fs, qualified);
        List<Path> kept = beside(target, "previous");
        if (point.newOutputComplete) {
            assertEquals(Optional.empty(), problem, "the new output is complete");
            assertEquals(expectedV2, rows(target), "the new output holds v2's rows, all of them");
        } else {
            assertTrue(problem.isPresent() && problem.get().contains("the previous complete output was kept at"),
                    problem + "; beside it: " + beside(target, "lease|previous|staging") + "; kept copies' problems: "
                    + keptProblems(fs, target));
            assertEquals(1, kept.size(), kept.toString());
            assertEquals(Optional.empty(), CommitMarker.problem(fs, hadoopPath(kept.get(0))),
                    "the kept previous output is complete");
            assertEquals(expectedV1, rows(kept.get(0)), "the kept previous output holds v1's rows, all of them");
        }

        // the dead run's lease names this host and a process that is gone: the next run takes it over at once
        assertTrue(Files.exists(target.resolveSibling("_lease-" + target.getFileName())), "the killed run's lease");
        prepInProcess(target, "v2");
        assertEquals(Optional.empty(), FolderCommit.problem(fs, qualified));
        assertEquals(expectedV2, rows(target));
        assertEquals(List.of(), beside(target, "lease|previous|staging"), "no kept copy, staging folder or lease is left");
    }

    private static List<String> records(String version, int count) {
        String[] words = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every", "question"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            lines.add("{\"instruction\": \"" + version + " question " + i + ": " + words[i % words.length] + " "
                    + words[(3 * i + 1) % words.length] + "\", \"input\": \"\", \"output\": \"answer " + i + " of the "
                    + version + " version\"}");
        }
        return lines;
    }

    /** Runs {@code sparktune prep} of {@code dataset} to {@code target} in this JVM; fails unless it succeeds. */
    private static void prepInProcess(Path target, String dataset) {
        StringWriter err = new StringWriter();
        assertEquals(0, prep(target, dataset, err), err.toString());
    }

    private static int prep(Path target, String dataset, StringWriter err) {
        return Sparktune.run(new String[] {"prep", job.toString(), "--set", "data.prepared_path=" + target,
            "--set", "data.dataset=" + dataset}, new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
    }

    /** {@code sparktune prep} of {@code dataset} to {@code target} on {@code holdfs:}, in a JVM of its own. */
    private static Process startPrep(Path target, String dataset, KillPoint point, Path signal) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(java, "-Xmx768m", "-XX:+UseSerialGC"));
        command.addAll(List.of(JavaModuleOptions.defaultModuleOptions().split("\\s+")));
        String log4j = System.getProperty("log4j2.configurationFile");
        if (log4j != null) {
            command.add("-Dlog4j2.configurationFile=" + log4j);
        }
        command.addAll(List.of("-Dspark.master=local[2]", "-Dspark.ui.enabled=false",
                "-Dspark.driver.host=127.0.0.1", "-Dspark.driver.bindAddress=127.0.0.1",
                "-Dspark.sql.shuffle.partitions=4"));
        HoldingFileSystem.settings(point.operation, point.pathRegex(target), signal)
                .forEach((key, value) -> command.add("-Dspark.hadoop." + key + "=" + value));
        command.addAll(List.of("-cp", classpath, Sparktune.class.getName(), "prep", job.toString(),
                "--set", "data.prepared_path=" + HoldingFileSystem.location(target),
                "--set", "data.dataset=" + dataset));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log(signal).toFile()).start();
    }

    private static Path log(Path signal) {
        return signal.resolveSibling(signal.getFileName() + ".log");
    }

    private static String logText(Path signal) {
        try {
            return Files.readString(log(signal));
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** What {@link FolderCommit} keeps beside {@code target}: {@code _KIND-NAME} and {@code _KIND-NAME-RUN}. */
    private static List<Path> beside(Path target, String kinds) throws IOException {
        Pattern name = Pattern.compile("_(" + kinds + ")-" + Pattern.quote(target.getFileName().toString()) + "(-.*)?");
        try (Stream<Path> entries = Files.list(target.getParent())) {
            return entries.filter(p -> name.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
    }

    /**
     * {@code file:/...} of a local path (not through {@link Path#toUri()}, whose trailing slash on an existing folder
     * would make Hadoop take the folder for its own parent).
     */
    private static org.apache.hadoop.fs.Path hadoopPath(Path local) {
        return new org.apache.hadoop.fs.Path("file", null, local.toAbsolutePath().normalize().toString());
    }

    /** Each kept copy's problem, or "complete": for the message of a failed check. */
    private static List<String> keptProblems(FileSystem fs, Path target) throws IOException {
        List<String> problems = new ArrayList<>();
        for (Path kept : beside(target, "previous")) {
            problems.add(CommitMarker.problem(fs, hadoopPath(kept)).orElse("complete"));
        }
        return problems;
    }

    /** The rows of a prepared output, in id order, as one comparable text. */
    private static String rows(Path output) {
        return String.join("\n", SPARK.session().read().parquet(output.toString())
                .selectExpr("id", "dataset", "to_json(messages) AS messages").sort("id").toJSON().collectAsList());
    }
}
