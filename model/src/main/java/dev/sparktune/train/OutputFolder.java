package dev.sparktune.train;

import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The folder a run writes its checkpoints and {@code metrics.jsonl} to, on any Hadoop file system:
 * {@code location} is a URI such as {@code hdfs://namenode:8020/runs/x} or {@code s3a://bucket/runs/x},
 * or a path without a scheme, which {@code conf}'s {@code fs.defaultFS} resolves.
 */
public record OutputFolder(Configuration conf, String location) {
    public OutputFolder {
        Objects.requireNonNull(conf, "conf");
        if (location == null || location.isBlank()) {
            throw new IllegalArgumentException("the output folder location is empty; give a path or a URI such as "
                    + "hdfs://namenode:8020/runs/x");
        }
    }

    /** A folder on the local file system, whatever {@code fs.defaultFS} says. */
    public static OutputFolder local(java.nio.file.Path folder) {
        return new OutputFolder(new Configuration(), localLocation(folder));
    }

    /** {@code file:/...}, the location of a local path. */
    static String localLocation(java.nio.file.Path path) {
        return new Path("file", null, path.toAbsolutePath().normalize().toString()).toString();
    }

    /** The location of {@code name} inside this folder. */
    public String resolve(String name) {
        return new Path(new Path(location), name).toString();
    }
}
