package dev.sparktune.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What the spark-submit integration tests (standalone, YARN) submit: the app jar, Spark's own classpath, and a tiny
 * SFT job of 32 rows on a tiny random Llama with a real tokenizer (all-MiniLM-L6-v2's WordPiece) and a chat template.
 */
final class SubmittedJob {
    static final Path APP_JAR = Path.of("target", "sparktune-app.jar").toAbsolutePath();
    private static final Path SPARK_CLASSPATH = Path.of("..", "spark-runtime", "target", "spark-classpath.txt");

    private SubmittedJob() {
    }

    /** What a cluster's jars/ holds: spark-runtime's classpath, colon-separated. */
    static String sparkClasspath() throws IOException {
        return Files.readString(SPARK_CLASSPATH).trim();
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The tiny Llama, in the Hugging Face layout, in {@code folder}. */
    static Path writeModel(Path folder) throws IOException {
        return TinyChatLlama.write(folder);
    }

    /**
     * The job's data, registry and YAML in {@code folder}, every output under it: 4 steps of LoRA on 2 ranks, a
     * quarter of the rows for validation, an export folder.
     */
    static Path write(Path folder, Path model) throws IOException {
        Files.createDirectories(folder);
        Random random = new Random(5);
        String[] words = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every", "question"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            lines.add("{\"instruction\": \"question " + i + ": " + sentence(random, words) + "\", \"output\": \""
                    + sentence(random, words) + "\"}");
        }
        Files.write(folder.resolve("chat.jsonl"), lines, StandardCharsets.UTF_8);
        Files.writeString(folder.resolve("dataset_info.yaml"), "chat:\n  file_name: chat.jsonl\n");
        return Files.writeString(folder.resolve("job.yaml"), String.join("\n",
                "data:",
                "  dataset: [chat]",
                "  dataset_dir: " + folder,
                "  prepared_path: " + folder.resolve("prepared"),
                "  tokenized_path: " + folder.resolve("tokenized"),
                "  val_size: 0.25",
                "model:",
                "  model_name_or_path: " + model,
                "method: {finetuning_type: lora, lora_rank: 2}",
                "train:",
                "  output_dir: " + folder.resolve("run"),
                "  per_device_train_batch_size: 4",
                "  max_steps: 4",
                "dist: {world_size: 2}",
                "export:",
                "  export_dir: " + folder.resolve("merged"),
                ""));
    }

    private static String sentence(Random random, String[] words) {
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < 4 + random.nextInt(5); w++) {
            s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
        }
        return s.append('.').toString();
    }
}
