package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune prep} then {@code sparktune train} on {@code local-cluster}, as a new user runs them: a job that
 * sets only what has no default (the datasets, the model, where prep and train write), everything else at its
 * default (SFT, LoRA on every linear layer, no validation split, one rank).
 */
@Tag("integration")
class PrepThenTrainClusterTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static Path model;

    /**
     * A tiny random Llama in the Hugging Face layout with a real tokenizer (all-MiniLM-L6-v2's WordPiece, from its
     * Maven artifact; the vocabulary sizes agree) and a chat template of its own, as chat models ship them.
     */
    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatLlama.write(dir.resolve("tiny-chat-llama"));
    }

    private static int sparktune(StringWriter out, StringWriter err, String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void aJobWithOnlyTheRequiredKeysPrepsAndTrains() throws IOException {
        Path data = dir.resolve("data");
        Files.createDirectories(data);
        Random random = new Random(5);
        String[] words = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every", "question"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            lines.add("{\"instruction\": \"question " + i + ": " + sentence(random, words) + "\", \"input\": \"\","
                    + " \"output\": \"" + sentence(random, words) + "\"}");
        }
        Files.write(data.resolve("chat.jsonl"), lines, StandardCharsets.UTF_8);
        Files.writeString(data.resolve("dataset_info.yaml"), "chat:\n  file_name: chat.jsonl\n");
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, String.join("\n",
                "data:",
                "  dataset: [chat]",
                "  dataset_dir: " + data,
                "  prepared_path: " + dir.resolve("prepared"),
                "  tokenized_path: " + dir.resolve("tokenized"),
                "model:",
                "  model_name_or_path: " + model,
                "train:",
                "  output_dir: " + dir.resolve("run"),
                ""));

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, sparktune(out, err, "prep", job.toString()), err.toString());
        assertFalse(Files.exists(dir.resolve("tokenized/_validation")), "val_size 0 writes no validation split");
        assertTrue(Files.isDirectory(dir.resolve("tokenized/task=chat")), "one task, named after its dataset");

        long rows = TokenizedParquet.rowGroups(new Configuration(), dir.resolve("tokenized").toString()).stream()
                .mapToLong(TokenizedParquet.RowGroup::rows).sum();
        assertTrue(rows >= 40, "dedup kept " + rows + " of 48 distinct questions");

        assertEquals(0, sparktune(out, err, "train", job.toString()), err.toString());
        // micro-batches of 8 rows (per_device_train_batch_size), 3 epochs (num_train_epochs)
        long steps = 3 * (rows / 8);
        assertTrue(out.toString().contains("Trained to step " + steps + " "), out.toString());
        Path adapter = dir.resolve("run/adapter");
        JsonObject config = JsonParser.parseString(Files.readString(adapter.resolve(PeftFormat.CONFIG_FILE)))
                .getAsJsonObject();
        assertEquals("LORA", config.get("peft_type").getAsString());
        assertEquals(8, config.get("r").getAsInt());
        List<String> metrics = Files.readAllLines(dir.resolve("run/metrics.jsonl"));
        assertFalse(metrics.isEmpty());
        assertTrue(metrics.get(metrics.size() - 1).contains("\"step\":" + steps + ","), metrics.get(metrics.size() - 1));
    }

    private static String sentence(Random random, String[] words) {
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < 4 + random.nextInt(5); w++) {
            s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
        }
        return s.append('.').toString();
    }
}
