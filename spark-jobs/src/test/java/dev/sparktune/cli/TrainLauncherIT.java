package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/sparktune train} as a user runs it, as the driver of a {@code local-cluster} with two executor JVMs: the
 * driver has a 512 MiB heap and the tokenized dataset would take more than that in memory, so the run completes only
 * if rows never pass through the driver.
 */
@Tag("integration")
class TrainLauncherIT {
    private static final Path LAUNCHER = Path.of("..", "bin", "sparktune").toAbsolutePath().normalize();
    private static final Path BUILD = Path.of("target").toAbsolutePath();
    private static final Path SPARK_CLASSPATH = Path.of("..", "spark-runtime", "target", "spark-classpath.txt");
    private static final int DRIVER_HEAP_MB = 512;
    private static final int FILES = 14;
    private static final int ROWS_PER_FILE = 25_000;
    private static final int TOKENS_PER_ROW = 256;

    @Test
    void trainsOnMoreRowsThanTheDriversHeapHolds(@TempDir Path dir) throws Exception {
        long datasetBytes = (long) FILES * ROWS_PER_FILE * TOKENS_PER_ROW * Long.BYTES;
        assertTrue(datasetBytes > (long) DRIVER_HEAP_MB << 20, "the dataset's token ids alone must exceed the driver heap");
        Path model = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Path data = dir.resolve("tokenized");
        writeData(data);
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, """
                model: {model_name_or_path: %s}
                data: {tokenized_path: %s}
                method: {stage: pt, finetuning_type: lora, lora_rank: 2, lora_target: [q_proj, v_proj]}
                train: {output_dir: %s, per_device_train_batch_size: 2, max_steps: 3, save_steps: 3, logging_steps: 1}
                dist: {world_size: 2}
                """.formatted(model, data, dir.resolve("run")), StandardCharsets.UTF_8);

        ProcessBuilder builder = new ProcessBuilder(LAUNCHER.toString(), "train", job.toString())
                .redirectOutput(dir.resolve("stdout.txt").toFile()).redirectError(dir.resolve("stderr.txt").toFile());
        Map<String, String> env = builder.environment();
        env.put("SPARK_HOME", sparkHome(dir.resolve("spark-home")).toString());
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        // executor JVMs, which the local-cluster workers start, need Spark's --add-opens list too
        env.put("JDK_JAVA_OPTIONS", JavaModuleOptions.defaultModuleOptions());
        env.put("SPARKTUNE_JAVA_OPTS", "-Xmx" + DRIVER_HEAP_MB + "m -Dspark.master=local-cluster[2,1,1024]"
                + " -Dspark.driver.host=127.0.0.1 -Dspark.ui.enabled=false");
        Process p = builder.start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "bin/sparktune train did not finish");
        String stdout = Files.readString(dir.resolve("stdout.txt"), StandardCharsets.UTF_8);
        String stderr = Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), stderr);
        assertTrue(stdout.contains("Trained to step 3"), stdout);
        assertTrue(Files.isRegularFile(dir.resolve("run/checkpoint-3/_SUCCESS")));
        assertTrue(stderr.contains("step 3/3"), "the driver logs rank 0's progress: " + stderr);
    }

    /** 350,000 rows of 256 token ids in 14 files of small row groups, written a file at a time. */
    private static void writeData(Path data) {
        Random random = new Random(5);
        for (int f = 0; f < FILES; f++) {
            List<TokenizedRow> rows = new ArrayList<>(ROWS_PER_FILE);
            for (int r = 0; r < ROWS_PER_FILE; r++) {
                rows.add(new TokenizedRow(random.longs(TOKENS_PER_ROW, 1, 61).toArray(), null, null, null, null));
            }
            TokenizedParquet.write(new Configuration(), data.resolve(String.format("part-%02d.parquet", f)).toString(),
                    rows, 1 << 20);
        }
        try {
            org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(data.toUri());
            CommitMarker.write(folder.getFileSystem(new Configuration()), folder);    // as prep leaves it
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A SPARK_HOME whose jars/ holds what spark-submit would give executors: Spark's classpath and the app jar. */
    private static Path sparkHome(Path home) throws Exception {
        Path jars = Files.createDirectories(home.resolve("jars"));
        List<Path> classpath = new ArrayList<>(List.of(BUILD.resolve("sparktune-app.jar")));
        for (String entry : Files.readString(SPARK_CLASSPATH).trim().split(":")) {
            classpath.add(Path.of(entry));
        }
        for (int i = 0; i < classpath.size(); i++) {
            Files.createSymbolicLink(jars.resolve(String.format("%03d-%s", i, classpath.get(i).getFileName())),
                    classpath.get(i));
        }
        return home;
    }
}
