package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.testing.MiniHdfs;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparktune prep} with {@code model.model_name_or_path} on HDFS, on {@code local-cluster[2,1,1024]}: the driver
 * and both executor JVMs take the tokenizer files (all-MiniLM-L6-v2's tokenizer.json and the folder's own
 * chat_template.jinja) from HDFS through their model-folder cache, and the tokenized rows are exactly those of the same
 * folder on the local disk.
 */
@Tag("integration")
class PrepModelOnHdfsClusterTest {
    private static final String[] WORDS = {"the", "model", "reads", "spark", "tables", "quickly", "and", "every",
        "answer", "is", "short", "data", "blue", "green", "river", "token", "cluster", "writes", "parquet", "files",
        "north", "cold", "seven", "lamp", "window", "orange", "quiet", "engine", "paper", "mountain"};
    /** ChatML as a Jinja template in the model folder, so executors read it from their copy. */
    private static final String CHAT_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role']"
            + " + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    @RegisterExtension
    static final MiniHdfs hdfs = new MiniHdfs();

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @Test
    void aModelFolderOnHdfsTokenizesExactlyAsTheSameFolderOnTheLocalDisk() throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, model.resolve("tokenizer.json"));
        Files.writeString(model.resolve("chat_template.jinja"), CHAT_TEMPLATE);
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"bert\"}");   // not a tokenizer file
        String onHdfs = hdfs.uri("/models/minilm");
        hdfs.fileSystem().copyFromLocalFile(new org.apache.hadoop.fs.Path(model.toUri()),
                new org.apache.hadoop.fs.Path(onHdfs));
        Path job = writeJob();

        List<TokenizedRow> local = prep(job, model.toString(), "local");
        List<TokenizedRow> remote = prep(job, onHdfs, "hdfs");

        assertTrue(local.size() > 10, "the premise: rows were tokenized, " + local.size());
        assertTrue(local.stream().allMatch(r -> r.labels() != null), "the premise: SFT rows, chat template applied");
        assertEquals(local, remote);
        assertEquals(Files.readString(dir.resolve("tokenized-local/_fingerprint")),
                Files.readString(dir.resolve("tokenized-hdfs/_fingerprint")),
                "the same tokenizer content, input and options");
    }

    private Path writeJob() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("dataset_info.yaml"), "demo:\n  file_name: demo.jsonl\n");
        Random random = new Random(11);
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            lines.append("{\"instruction\": \"").append(sentence(random, 4 + random.nextInt(8)))
                    .append("\", \"output\": \"").append(sentence(random, 2 + random.nextInt(12))).append("\"}\n");
        }
        Files.writeString(data.resolve("demo.jsonl"), lines);
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "data:\n  dataset: demo\n  dataset_dir: " + data.toUri() + "\n  cutoff_len: 48\n"
                + "  packing: true\n  clean: false\n  dedup: false\n");
        return job;
    }

    private static String sentence(Random random, int words) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < words; i++) {
            text.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        }
        return text.append('.').toString();
    }

    private List<TokenizedRow> prep(Path job, String modelLocation, String name) {
        Path tokenized = dir.resolve("tokenized-" + name);
        int code = Sparktune.run(new String[] {"prep", job.toString(),
            "--set", "model.model_name_or_path=" + modelLocation,
            "--set", "data.tokenized_path=" + tokenized.toUri(),
            "--set", "data.prepared_path=" + dir.resolve("prepared-" + name).toUri()},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, code, err.toString());
        Configuration conf = spark.session().sparkContext().hadoopConfiguration();
        List<TokenizedRow> rows = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf, tokenized.toString())) {
            rows.addAll(TokenizedParquet.read(conf, group));
        }
        return rows;
    }
}
