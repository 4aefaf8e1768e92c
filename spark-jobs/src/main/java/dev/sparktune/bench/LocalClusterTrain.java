package dev.sparktune.bench;

import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.launcher.JavaModuleOptions;

/**
 * What the cluster benchmarks share: a tokenized dataset written as Parquet files the ranks share out, and
 * {@code sparktune train job} started in a JVM of its own (a Spark driver whose executors are separate JVMs, as on a
 * cluster) on {@code local-cluster[executors, cores, MB]}. Its workers start the executors from an empty
 * {@code SPARK_HOME/jars}: the executors' classpath is this JVM's, through {@code spark.executor.extraClassPath}, with
 * Spark's Java module options.
 */
final class LocalClusterTrain {
    private static final int TAIL_CHARS = 4000;

    /** {@code executors} executors of {@code cores} cores and {@code memoryMb} of heap each. */
    record Cluster(int executors, int cores, int memoryMb) {
    }

    private LocalClusterTrain() {
    }

    /** {@code rows} as a committed tokenized dataset in {@code folder}, spread over {@code files} Parquet files. */
    static Path writeRows(Path folder, List<TokenizedRow> rows, int files) throws IOException {
        Files.createDirectories(folder);
        int per = (rows.size() + files - 1) / files;
        for (int f = 0; f * per < rows.size(); f++) {
            TokenizedParquet.write(new Configuration(), folder.resolve(String.format(Locale.ROOT, "part-%02d.parquet", f))
                    .toString(), rows.subList(f * per, Math.min(rows.size(), (f + 1) * per)), 1 << 20);
        }
        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(folder.toUri());
        CommitMarker.write(root.getFileSystem(new Configuration()), root);
        return folder;
    }

    /**
     * Starts {@code sparktune train job} on {@code cluster}, its output (stdout and stderr) going to {@code log}.
     *
     * @param prefix    a command the JVM is started through (e.g. {@code prlimit}), or empty
     * @param extra     further Spark properties
     * @param sparkHome a folder with an empty {@code jars/}
     */
    static Process start(Path job, Cluster cluster, List<String> prefix, Map<String, String> extra, Path sparkHome,
                         Path log) throws IOException {
        String classpath = System.getProperty("java.class.path");
        List<String> command = new ArrayList<>(prefix);
        command.addAll(ChildJvm.command("-Dspark."));
        Map<String, String> spark = new LinkedHashMap<>(Map.of(
                "spark.master", String.format(Locale.ROOT, "local-cluster[%d,%d,%d]", cluster.executors(),
                        cluster.cores(), cluster.memoryMb()),
                "spark.task.cpus", Integer.toString(cluster.cores()),
                "spark.executor.memory", cluster.memoryMb() + "m",
                "spark.executor.extraClassPath", classpath,
                "spark.executor.extraJavaOptions", JavaModuleOptions.defaultModuleOptions(),
                "spark.driver.host", "127.0.0.1",
                "spark.driver.bindAddress", "127.0.0.1",
                "spark.ui.enabled", "false"));
        spark.putAll(extra);
        spark.forEach((key, value) -> command.add("-D" + key + "=" + value));
        command.addAll(List.of("dev.sparktune.cli.Sparktune", "train", job.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("SPARK_HOME", sparkHome.toString());
        builder.environment().put("SPARK_SCALA_VERSION", "2.13");
        builder.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return builder.start();
    }

    /** Stops {@code process} and the executors it started, if it still runs. */
    static void stop(Process process) {
        if (process.isAlive()) {
            // the executors are the driver's children: stop them first, while they are still its descendants
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /** The last few thousand characters of {@code log}, for an error message. */
    static String tail(Path log) throws IOException {
        String output = Files.exists(log) ? Files.readString(log) : "";
        return output.length() > TAIL_CHARS ? output.substring(output.length() - TAIL_CHARS) : output;
    }

    /** Best effort: a file an ending executor still writes must not hide the benchmark's own outcome. */
    static void delete(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException left) {
                    // left in the temporary folder
                }
            }
        } catch (IOException | java.io.UncheckedIOException left) {
            // left in the temporary folder
        }
    }
}
