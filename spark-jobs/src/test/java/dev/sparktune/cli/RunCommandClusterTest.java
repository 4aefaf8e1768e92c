package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.peft.PeftFormat;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune run} on {@code local-cluster[2,1,1024]}: a tiny Llama SFT job from raw alpaca rows to an exported
 * model in one command; the same command again skips every step; a changed train key reruns train, eval and export
 * but not prep; with {@code --partition} each partition runs in its own folders.
 */
@Tag("integration")
class RunCommandClusterTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static final String[] WORDS = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every",
        "question", "fast"};

    private static Path job;

    @BeforeAll
    static void writeJob() throws IOException {
        Path model = TinyChatLlama.write(dir.resolve("tiny-chat-llama"));
        Files.createDirectories(dir.resolve("data"));
        Random random = new Random(5);
        List<String> chat = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            chat.add("{\"instruction\": \"question " + i + ": " + sentence(random) + "\", \"input\": \"\","
                    + " \"output\": \"" + sentence(random) + "\"}");
        }
        Files.write(dir.resolve("data/chat.jsonl"), chat, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("data/dataset_info.yaml"), "chat: {file_name: chat.jsonl}\n");
        job = dir.resolve("job.yaml");
        Files.writeString(job, String.join("\n",
                "data:",
                "  dataset: [chat]",
                "  dataset_dir: " + dir.resolve("data"),
                "  prepared_path: " + dir.resolve("prepared"),
                "  tokenized_path: " + dir.resolve("tokenized"),
                "  cutoff_len: 32",
                "  val_size: 0.25",
                "  test_size: 0.25",
                "model: {model_name_or_path: " + model + "}",
                "train: {output_dir: " + dir.resolve("run") + ", max_steps: 2, learning_rate: 0.01, save_steps: 1}",
                "eval: {metrics: [perplexity, bleu], per_device_eval_batch_size: 4}",
                "generation: {max_new_tokens: 3}",
                "export: {export_dir: " + dir.resolve("export") + "}",
                ""));
    }

    @Test
    void runsEveryStepThenSkipsThemThenRerunsWhatAChangedKeyReaches() throws IOException {
        GenerateCommandTest.Run first = GenerateCommandTest.sparktune("", "run", job.toString());
        System.out.println(first.stdout());
        assertEquals(0, first.exitCode(), first.stdout() + first.stderr());
        for (String header : List.of("[1/4] prep", "[2/4] train", "[3/4] eval", "[4/4] export")) {
            assertTrue(first.stdout().contains(header + "\n"), header + " in\n" + first.stdout());
        }
        assertTrue(first.stdout().contains("Trained to step 2 "), first.stdout());
        assertTrue(first.stdout().contains("chat: "), "eval's summary line in\n" + first.stdout());
        Map<String, Path> artifacts = new LinkedHashMap<>();
        artifacts.put("prepared", dir.resolve("prepared/_SUCCESS"));
        artifacts.put("tokenized", dir.resolve("tokenized/_SUCCESS"));
        artifacts.put("adapter", dir.resolve("run/adapter/" + PeftFormat.CONFIG_FILE));
        artifacts.put("eval", dir.resolve("run/eval/eval_results.json"));
        artifacts.put("predictions", dir.resolve("run/eval/predictions"));
        artifacts.put("export", dir.resolve("export/" + ExportReport.FILE));
        for (String step : List.of("prep", "train", "eval", "export")) {
            artifacts.put(step + " marker", dir.resolve("run/_run/" + step + ".json"));
        }
        artifacts.forEach((name, path) -> assertTrue(Files.exists(path), name + ": " + path));
        assertTrue(first.stdout().contains("Report: " + dir.resolve("run") + "/report.html ("), first.stdout());
        assertTrue(Files.readString(dir.resolve("run/report.html")).contains("<h2 id=\"evaluation\">"));
        String results = Files.readString(dir.resolve("run/eval/eval_results.json"));
        assertTrue(results.contains("\"perplexity\"") && results.contains("\"bleu\""), results);
        assertTrue(results.contains("\"input\": \"the test split of data.prepared_path"), "eval's default with a"
                + " test split is the test split: " + results);
        assertTrue(Files.exists(dir.resolve("prepared/_test/part-00000.parquet")), "prep wrote the test split");
        Map<String, FileTime> written = modified(artifacts);

        long start = System.nanoTime();
        GenerateCommandTest.Run again = GenerateCommandTest.sparktune("", "run", job.toString());
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.println(again.stdout() + "(second run: " + seconds + " s)");
        assertEquals(0, again.exitCode(), again.stdout() + again.stderr());
        for (String step : List.of("prep", "train", "eval", "export")) {
            assertTrue(again.stdout().matches("(?s).*\\n" + step + ": up to date \\(fingerprint [0-9a-f]{12}…\\),"
                    + " skipped\\n.*"), step + " skipped in\n" + again.stdout());
        }
        assertEquals(written, modified(artifacts), "a finished run rewrites nothing");

        byte[] adapterBefore = Files.readAllBytes(dir.resolve("run/adapter/adapter_model.safetensors"));
        GenerateCommandTest.Run changed = GenerateCommandTest.sparktune("", "run", job.toString(),
                "--set", "train.learning_rate=0.02");
        System.out.println(changed.stdout());
        assertEquals(0, changed.exitCode(), changed.stdout() + changed.stderr());
        assertTrue(changed.stdout().contains("prep: up to date"), changed.stdout());
        for (String step : List.of("train", "eval", "export")) {
            assertFalse(changed.stdout().contains(step + ": up to date"), step + " reran in\n" + changed.stdout());
            assertTrue(changed.stdout().contains(step + ": done in "), step + " reran in\n" + changed.stdout());
        }
        assertTrue(changed.stdout().contains("removing 2 of them and training from the start"), changed.stdout());
        assertTrue(changed.stdout().contains("Trained to step 2 "), "trained afresh, not resumed:\n" + changed.stdout());
        assertFalse(java.util.Arrays.equals(adapterBefore,
                Files.readAllBytes(dir.resolve("run/adapter/adapter_model.safetensors"))), "a new adapter");
        assertEquals(written.get("prepared"), Files.getLastModifiedTime(artifacts.get("prepared")), "prep not rerun");
        assertTrue(Files.getLastModifiedTime(artifacts.get("export")).compareTo(written.get("export")) > 0,
                "export rewritten");
    }

    @Test
    void onlyTheSelectedStepsRunAndAnUnsetExportDirSkipsExport() {
        GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", "run", job.toString(), "--steps", "export,prep",
                "--set", "export.export_dir=null");
        assertEquals(0, run.exitCode(), run.stdout() + run.stderr());
        assertTrue(run.stdout().contains("[1/2] prep\n"), run.stdout());
        assertTrue(run.stdout().contains("[2/2] export\nexport: export.export_dir is not set, skipped"), run.stdout());
        assertFalse(run.stdout().contains("] train") || run.stdout().contains("\ntrain:"), run.stdout());
    }

    @Test
    void eachPartitionRunsInItsOwnFoldersAndSkipsOnlyItsOwnFinishedSteps() throws IOException {
        Path daily = dir.resolve("daily");
        List<String> paths = List.of("--set", "data.prepared_path=" + daily.resolve("prepared"),
                "--set", "data.tokenized_path=" + daily.resolve("tokenized"),
                "--set", "train.output_dir=" + daily.resolve("run"),
                "--set", "export.export_dir=" + daily.resolve("export"));
        GenerateCommandTest.Run first = sparktuneRun(paths, "--partition", "dt=2026-11-28");
        assertEquals(0, first.exitCode(), first.stdout() + first.stderr());
        assertTrue(first.stdout().contains("Wrote ") && first.stdout().contains(daily.resolve("prepared")
                + "/dt=2026-11-28 ("), first.stdout());
        List<Path> firstDay = new ArrayList<>();
        for (String output : List.of("prepared/dt=2026-11-28/_SUCCESS", "tokenized/dt=2026-11-28/_SUCCESS",
                "run/dt=2026-11-28/adapter/" + PeftFormat.CONFIG_FILE, "run/dt=2026-11-28/eval/eval_results.json",
                "run/dt=2026-11-28/_run/export.json", "export/dt=2026-11-28/" + ExportReport.FILE)) {
            firstDay.add(daily.resolve(output));
        }
        firstDay.forEach(p -> assertTrue(Files.exists(p), p.toString()));
        for (String root : List.of("prepared", "tokenized", "run", "export")) {
            try (var entries = Files.list(daily.resolve(root))) {
                assertEquals(List.of("dt=2026-11-28"), entries.map(e -> e.getFileName().toString())
                        .filter(name -> !name.startsWith(".")).toList(), root + " holds only the partition");
            }
        }
        Map<String, Path> firstDayFiles = new LinkedHashMap<>();
        firstDay.forEach(p -> firstDayFiles.put(p.toString(), p));
        Map<String, FileTime> written = modified(firstDayFiles);

        GenerateCommandTest.Run nextDay = sparktuneRun(paths, "--partition", "dt=2026-11-29", "--steps", "prep,train");
        assertEquals(0, nextDay.exitCode(), nextDay.stdout() + nextDay.stderr());
        assertFalse(nextDay.stdout().contains("up to date"), "a new partition has no finished step:\n"
                + nextDay.stdout());
        assertTrue(Files.exists(daily.resolve("run/dt=2026-11-29/adapter/" + PeftFormat.CONFIG_FILE)));
        assertTrue(Files.exists(daily.resolve("tokenized/dt=2026-11-29/_SUCCESS")));
        assertEquals(written, modified(firstDayFiles), "the other partition is left alone");

        GenerateCommandTest.Run rerun = sparktuneRun(paths, "--partition", "dt=2026-11-28");
        assertEquals(0, rerun.exitCode(), rerun.stdout() + rerun.stderr());
        for (String step : List.of("prep", "train", "eval", "export")) {
            assertTrue(rerun.stdout().contains(step + ": up to date"), step + " skipped in\n" + rerun.stdout());
        }
    }

    private static GenerateCommandTest.Run sparktuneRun(List<String> overrides, String... options) {
        List<String> args = new ArrayList<>(List.of("run", job.toString()));
        args.addAll(overrides);
        args.addAll(List.of(options));
        return GenerateCommandTest.sparktune("", args.toArray(String[]::new));
    }

    private static Map<String, FileTime> modified(Map<String, Path> files) throws IOException {
        Map<String, FileTime> times = new LinkedHashMap<>();
        for (Map.Entry<String, Path> f : files.entrySet()) {
            times.put(f.getKey(), Files.getLastModifiedTime(f.getValue()));
        }
        return times;
    }

    private static String sentence(Random random) {
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < 3 + random.nextInt(4); w++) {
            s.append(w == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        }
        return s.append('.').toString();
    }
}
