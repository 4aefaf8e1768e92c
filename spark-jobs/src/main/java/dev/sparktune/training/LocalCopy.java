package dev.sparktune.training;

import dev.sparktune.io.LocalFolders;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * A model folder as a local path, whatever file system it lives on: model loading memory-maps local files, so a
 * folder on {@code hdfs://} or {@code s3a://} is copied once per JVM into a temporary folder, reused by every later
 * task of that executor and removed when the JVM exits. A local path or {@code file:} URI is used in place.
 */
public final class LocalCopy {
    private static final Map<String, Path> COPIES = new ConcurrentHashMap<>();

    private LocalCopy() {
    }

    public static Path of(Configuration conf, String location) {
        URI uri = URI.create(location);
        if (uri.getScheme() == null || uri.getScheme().equals("file")) {
            return uri.getScheme() == null ? Path.of(location) : Path.of(uri);
        }
        return COPIES.computeIfAbsent(location, l -> download(conf, l));
    }

    private static Path download(Configuration conf, String location) {
        org.apache.hadoop.fs.Path source = new org.apache.hadoop.fs.Path(location);
        Path target = null;
        try {
            target = Files.createTempDirectory("sparktune-model-");
            FileSystem fs = source.getFileSystem(conf);
            if (!fs.getFileStatus(source).isDirectory()) {
                throw new IllegalArgumentException(location + " is a file; model_name_or_path names a model folder");
            }
            fs.copyToLocalFile(false, source, new org.apache.hadoop.fs.Path(target.toUri()), true);
            Path copy = target;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> LocalFolders.deleteQuietly(copy),
                    "sparktune-remove-model-copy"));
            return target.resolve(source.getName());
        } catch (IOException e) {
            LocalFolders.deleteQuietly(target);     // a retry copies afresh; a partial copy must not pile up
            throw new UncheckedIOException("cannot copy the model folder " + location + " to this machine: " + e, e);
        } catch (RuntimeException e) {
            LocalFolders.deleteQuietly(target);
            throw e;
        }
    }

}
