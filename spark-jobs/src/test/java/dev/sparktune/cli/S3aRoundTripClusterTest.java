package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.testing.S3ProxyProcess;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Object storage end to end: {@code sparktune prep}, {@code train} to a checkpoint, {@code train} again resuming from
 * it to more steps, and {@code export}, with the datasets, their registry, the model, the prepared and tokenized data,
 * the run and the export all on {@code s3a://} (S3Proxy on loopback), on {@code local-cluster[2,1,1024]} whose
 * executors reach the bucket through the {@code spark.hadoop.fs.s3a.*} settings alone. The same job with every path on
 * the local disk gives the same prepared and tokenized rows, the same loss at every step, the same checkpoints and the
 * same exported weights, byte for byte.
 */
@Tag("integration")
class S3aRoundTripClusterTest {
    @RegisterExtension
    @Order(1)
    static final S3ProxyProcess S3 = new S3ProxyProcess();

    @RegisterExtension
    @Order(2)
    static final SparkClusterExtension SPARK = withSettings(SparkClusterExtension.localCluster(2, 1024), S3.sparkConf());

    @TempDir
    static Path dir;

    private static Path local;

    /**
     * The inputs, on the local disk and copied to the bucket: a tiny random Llama in the Hugging Face layout with a real
     * tokenizer (all-MiniLM-L6-v2's WordPiece; the vocabulary sizes agree) and ChatML, and an instruction dataset.
     */
    @BeforeAll
    static void writeInputs() throws IOException {
        local = dir.resolve("local");
        Path model = TinyChatLlama.write(local.resolve("model"));
        Path data = Files.createDirectories(local.resolve("data"));
        Random random = new Random(5);
        String[] words = {"spark", "reads", "tables", "the", "model", "answers", "briefly", "every", "question"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            lines.add("{\"instruction\": \"question " + i + ": " + sentence(random, words) + "\", \"input\": \"\","
                    + " \"output\": \"" + sentence(random, words) + "\"}");
        }
        Files.write(data.resolve("chat.jsonl"), lines, StandardCharsets.UTF_8);
        Files.writeString(data.resolve("registry.yaml"), "chat:\n  file_name: chat.jsonl\n");

        upload(model, S3.uri("/in/model"));
        upload(data, S3.uri("/in/data"));
    }

    private static void upload(Path folder, String location) throws IOException {
        FileSystem s3 = new org.apache.hadoop.fs.Path(location).getFileSystem(S3.conf());
        s3.copyFromLocalFile(new org.apache.hadoop.fs.Path(folder.toUri()), new org.apache.hadoop.fs.Path(location));
    }

    @Test
    void prepTrainResumeAndExportOnS3aEqualTheSameJobOnLocalFiles() throws Exception {
        Run onDisk = run("local", local.resolve("model").toString(), local.resolve("data").toString(),
                local.toString());
        Run onS3 = run("s3a", S3.uri("/in/model"), S3.uri("/in/data"), S3.uri("/out"));
        Configuration conf = SPARK.session().sparkContext().hadoopConfiguration();

        assertEquals("org.apache.hadoop.fs.s3a.S3AFileSystem",
                new org.apache.hadoop.fs.Path(onS3.root).getFileSystem(conf).getClass().getName());
        List<String> prepared = preparedRows(onDisk.root + "/prepared");
        assertEquals(40, prepared.size(), "the premise: every question prepared");
        assertEquals(prepared, preparedRows(onS3.root + "/prepared"));

        List<TokenizedRow> tokenized = tokenizedRows(conf, onDisk.root + "/tokenized");
        assertTrue(tokenized.size() >= 8, "the premise: rows to train on, " + tokenized.size());
        assertEquals(tokenized, tokenizedRows(conf, onS3.root + "/tokenized"));

        assertEquals(List.of(1L, 2L, 3L, 4L), steps(onDisk.firstMetrics), "the first run: 4 steps, each logged");
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), steps(onDisk.metrics), "the resumed run: on to step 6");
        assertEquals(losses(onDisk.firstMetrics), losses(onDisk.metrics).subList(0, 4),
                "the second run went on from checkpoint-4 instead of starting again");
        assertEquals(losses(onDisk.firstMetrics), losses(onS3.firstMetrics));
        assertEquals(losses(onDisk.metrics), losses(onS3.metrics));
        assertEquals(List.of("checkpoint-2", "checkpoint-4"), onDisk.firstCheckpoints);
        assertEquals(List.of("checkpoint-2", "checkpoint-4", "checkpoint-6"), onDisk.checkpoints);
        assertEquals(onDisk.firstCheckpoints, onS3.firstCheckpoints);
        assertEquals(onDisk.checkpoints, onS3.checkpoints);
        assertTrue(onS3.trainOutput.contains("Trained to step 4 ") && onS3.trainOutput.contains("Trained to step 6 "),
                onS3.trainOutput);

        SortedMap<String, byte[]> exported = files(conf, onDisk.root + "/export", ".safetensors");
        assertFalse(exported.isEmpty(), "the premise: the merged model was exported");
        SortedMap<String, byte[]> exportedOnS3 = files(conf, onS3.root + "/export", ".safetensors");
        assertEquals(exported.keySet(), exportedOnS3.keySet());
        for (String name : exported.keySet()) {
            assertArrayEquals(exported.get(name), exportedOnS3.get(name), name);
        }
    }

    /** What one job wrote, wherever it wrote it. */
    private record Run(String root, String trainOutput, List<String> firstMetrics, List<String> metrics,
                       List<String> firstCheckpoints, List<String> checkpoints) {
    }

    /** Prep, train 4 steps (a checkpoint every 2), train again to step 6 and export, everything under {@code root}. */
    private Run run(String name, String model, String data, String root) throws IOException {
        Path job = dir.resolve(name + ".yaml");
        Files.writeString(job, String.join("\n",
                "data:",
                "  dataset: [chat]",
                "  dataset_dir: " + data,
                "  dataset_info: " + data + "/registry.yaml",
                "  cutoff_len: 64",
                "  dedup_near: false",
                "  prepared_path: " + root + "/prepared",
                "  tokenized_path: " + root + "/tokenized",
                "model:",
                "  model_name_or_path: " + model,
                "train:",
                "  output_dir: " + root + "/run",
                "  per_device_train_batch_size: 4",
                "  learning_rate: 1.0e-2",
                "  max_steps: 4",
                "  save_steps: 2",
                "  logging_steps: 1",
                "  seed: 7",
                "export:",
                "  export_dir: " + root + "/export",
                ""));
        Configuration conf = SPARK.session().sparkContext().hadoopConfiguration();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, sparktune(out, err, "prep", job.toString()), err.toString());
        assertEquals(0, sparktune(out, err, "train", job.toString()), err.toString());
        List<String> firstMetrics = lines(conf, root + "/run/metrics.jsonl");
        List<String> firstCheckpoints = checkpoints(conf, root + "/run");
        assertEquals(0, sparktune(out, err, "train", job.toString(), "--set", "train.max_steps=6"), err.toString());
        assertEquals(0, sparktune(out, err, "export", job.toString()), err.toString());
        return new Run(root, out.toString(), firstMetrics, lines(conf, root + "/run/metrics.jsonl"), firstCheckpoints,
                checkpoints(conf, root + "/run"));
    }

    private static int sparktune(StringWriter out, StringWriter err, String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    /** The prepared rows as JSON, sorted: Spark's part files are named per run. */
    private static List<String> preparedRows(String location) {
        return SPARK.session().read().parquet(location).toJSON().collectAsList().stream().sorted().toList();
    }

    private static List<TokenizedRow> tokenizedRows(Configuration conf, String location) {
        List<TokenizedRow> rows = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf, location)) {
            rows.addAll(TokenizedParquet.read(conf, group));
        }
        return rows;
    }

    /** The committed checkpoints in {@code output}, by name. */
    private static List<String> checkpoints(Configuration conf, String output) throws IOException {
        org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(output);
        FileSystem fs = folder.getFileSystem(conf);
        List<String> names = new ArrayList<>();
        for (org.apache.hadoop.fs.FileStatus child : fs.listStatus(folder)) {
            String childName = child.getPath().getName();
            if (childName.startsWith("checkpoint-") && fs.exists(new org.apache.hadoop.fs.Path(child.getPath(), "_SUCCESS"))) {
                names.add(childName);
            }
        }
        names.sort(null);
        return names;
    }

    private static List<Long> steps(List<String> metrics) {
        return metrics.stream().map(line -> JsonParser.parseString(line).getAsJsonObject().get("step").getAsLong())
                .toList();
    }

    private static List<Double> losses(List<String> metrics) {
        return metrics.stream().map(line -> JsonParser.parseString(line).getAsJsonObject())
                .map((JsonObject o) -> o.get("loss").getAsDouble()).toList();
    }

    private static List<String> lines(Configuration conf, String file) throws IOException {
        return new String(read(conf, new org.apache.hadoop.fs.Path(file)), StandardCharsets.UTF_8).lines().toList();
    }

    /** The files under {@code location} whose names end in {@code suffix}, by relative path. */
    private static SortedMap<String, byte[]> files(Configuration conf, String location, String suffix) throws IOException {
        org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(location);
        FileSystem fs = folder.getFileSystem(conf);
        String prefix = fs.makeQualified(folder).toString() + "/";
        SortedMap<String, byte[]> files = new TreeMap<>();
        RemoteIterator<LocatedFileStatus> listing = fs.listFiles(folder, true);
        while (listing.hasNext()) {
            org.apache.hadoop.fs.Path file = listing.next().getPath();
            if (file.getName().endsWith(suffix)) {
                files.put(file.toString().substring(prefix.length()), read(conf, file));
            }
        }
        return files;
    }

    private static byte[] read(Configuration conf, org.apache.hadoop.fs.Path file) throws IOException {
        try (InputStream in = file.getFileSystem(conf).open(file)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            in.transferTo(bytes);
            return bytes.toByteArray();
        }
    }

    private static SparkClusterExtension withSettings(SparkClusterExtension cluster, Map<String, String> settings) {
        SparkClusterExtension configured = cluster;
        for (Map.Entry<String, String> setting : settings.entrySet()) {
            configured = configured.with(setting.getKey(), setting.getValue());
        }
        return configured;
    }

    private static String sentence(Random random, String[] words) {
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < 4 + random.nextInt(5); w++) {
            s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
        }
        return s.append('.').toString();
    }
}
