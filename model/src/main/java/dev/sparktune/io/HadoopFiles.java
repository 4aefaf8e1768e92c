package dev.sparktune.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.StreamCapabilities;

/**
 * The few file operations a run's outputs need on any Hadoop file system ({@code file://},
 * {@code hdfs://}, {@code s3a://}). The local file system is used raw, without Hadoop's
 * {@code .crc} side files, and code that needs a real local file (safetensors is written through
 * a {@link java.nio.channels.FileChannel} and read memory-mapped) gets the file itself there,
 * and a local temporary copy on every other file system.
 */
public final class HadoopFiles {

    /** Writes one local file. */
    public interface LocalWrite {
        void to(java.nio.file.Path file) throws IOException;
    }

    /** Reads one local file. */
    public interface LocalRead<T> {
        T from(java.nio.file.Path file) throws IOException;
    }

    private HadoopFiles() {
    }

    /** The file system of {@code path}; the raw one for local paths. */
    public static FileSystem fileSystem(Path path, Configuration conf) throws IOException {
        FileSystem fs = path.getFileSystem(conf);
        return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
    }

    /** {@code path} as a local file, when {@code fs} is the local file system. */
    public static Optional<java.nio.file.Path> localFile(FileSystem fs, Path path) {
        return fs instanceof RawLocalFileSystem raw ? Optional.of(raw.pathToFile(path).toPath()) : Optional.empty();
    }

    /**
     * Creates {@code target} with {@code write}: directly on the local file system, otherwise by
     * writing a local temporary file and uploading it. The temporary file is removed either way.
     */
    public static void writeLocally(FileSystem fs, Path target, LocalWrite write) throws IOException {
        Optional<java.nio.file.Path> local = localFile(fs, target);
        if (local.isPresent()) {
            write.to(local.get());
            return;
        }
        java.nio.file.Path scratch = Files.createTempDirectory("sparktune-upload-");
        try {
            java.nio.file.Path file = scratch.resolve(target.getName());
            write.to(file);
            try (InputStream in = Files.newInputStream(file); FSDataOutputStream out = fs.create(target, false)) {
                in.transferTo(out);
                sync(out);
            }
        } finally {
            deleteLocal(scratch);
        }
    }

    /**
     * Reads {@code source} with {@code read}: directly on the local file system, otherwise from a
     * local temporary copy, removed once {@code read} returns or fails.
     */
    public static <T> T readLocally(FileSystem fs, Path source, LocalRead<T> read) throws IOException {
        Optional<java.nio.file.Path> local = localFile(fs, source);
        if (local.isPresent()) {
            return read.from(local.get());
        }
        java.nio.file.Path scratch = Files.createTempDirectory("sparktune-download-");
        try {
            java.nio.file.Path file = scratch.resolve(source.getName());
            try (FSDataInputStream in = fs.open(source); OutputStream out = Files.newOutputStream(file)) {
                in.transferTo(out);
            }
            return read.from(file);
        } finally {
            deleteLocal(scratch);
        }
    }

    /** Creates {@code file} (which must not exist yet) holding {@code text}, synced to durable storage. */
    public static void writeDurably(FileSystem fs, Path file, String text) throws IOException {
        try (FSDataOutputStream out = fs.create(file, false)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            sync(out);
        }
    }

    /**
     * Creates the empty marker {@code file} in its folder as it stands: when the folder is gone (another writer
     * removed it) this fails with {@link FileNotFoundException} instead of creating the folder again, as
     * {@link FileSystem#create} would, holding the marker alone.
     */
    public static void writeMarker(FileSystem fs, Path file) throws IOException {
        if (!fs.exists(file.getParent())) {
            throw new FileNotFoundException(file.getParent() + " is gone; not writing " + file.getName() + " into it");
        }
        try (FSDataOutputStream out = fs.createNonRecursive(file, true, 4096, fs.getDefaultReplication(file),
                fs.getDefaultBlockSize(file), null)) {
            sync(out);
        }
    }

    /**
     * {@code location} qualified against the default file system ({@code fs.defaultFS}: HDFS on YARN, the local
     * disk locally), so that a path without a scheme means the same on every executor; null stays null.
     */
    public static String qualify(String location, Configuration conf) {
        if (location == null) {
            return null;
        }
        Path path = new Path(location);
        if (path.toUri().getScheme() != null) {
            return location;
        }
        try {
            return FileSystem.get(conf).makeQualified(path).toString();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot resolve " + location + ": " + e, e);
        }
    }

    public static String readString(FileSystem fs, Path file) throws IOException {
        try (FSDataInputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Makes what was written durable where the stream can ({@code hsync} on HDFS and local files);
     * on object stores (s3a) the data lands when the stream closes.
     */
    public static void sync(FSDataOutputStream out) throws IOException {
        if (out.hasCapability(StreamCapabilities.HSYNC)) {
            out.hsync();
        } else {
            out.flush();
        }
    }

    /**
     * Makes what was written visible to readers where the stream can ({@code hflush} on HDFS and
     * local files); on object stores (s3a) the data becomes visible when the stream closes.
     */
    public static void flushToReaders(FSDataOutputStream out) throws IOException {
        if (out.hasCapability(StreamCapabilities.HFLUSH)) {
            out.hflush();
        } else {
            out.flush();
        }
    }

    private static void deleteLocal(java.nio.file.Path folder) throws IOException {
        try (Stream<java.nio.file.Path> tree = Files.walk(folder)) {
            for (java.nio.file.Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
