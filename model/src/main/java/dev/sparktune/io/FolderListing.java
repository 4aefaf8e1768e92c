package dev.sparktune.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Some or all files of a folder on any Hadoop file system, with their sizes and modification times, as listed at one
 * moment: what {@link ModelFolderCache} copies, and what its copy is named by. Small and serialisable, so a driver can
 * list a folder once and send the listing to every task.
 *
 * @param location the folder, fully qualified ({@code file:/...}, {@code hdfs://host:port/...})
 * @param files    the listed files, by name relative to the folder ({@code /}-separated), in name order
 */
public record FolderListing(String location, List<File> files) implements Serializable {

    /** One file: its name relative to the folder, its length in bytes and its modification time (ms). */
    public record File(String name, long size, long modified) implements Serializable {
    }

    public FolderListing {
        files = files.stream().sorted(Comparator.comparing(File::name)).toList();
    }

    /** Every file under {@code location}, recursively. */
    public static FolderListing of(Configuration conf, String location) {
        Path folder = new Path(location);
        try {
            FileSystem fs = folder.getFileSystem(conf);
            Path qualified = requireFolder(fs, folder);
            String prefix = qualified.toUri().getPath().replaceAll("/+$", "") + "/";
            List<File> files = new ArrayList<>();
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(qualified, true);
            while (it.hasNext()) {
                FileStatus f = it.next();
                files.add(new File(f.getPath().toUri().getPath().substring(prefix.length()), f.getLen(),
                        f.getModificationTime()));
            }
            return new FolderListing(qualified.toString(), files);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the folder " + location + ": " + e.getMessage(), e);
        }
    }

    /** Those of {@code names} that are files directly in {@code location}; the others are left out. */
    public static FolderListing of(Configuration conf, String location, Collection<String> names) {
        Path folder = new Path(location);
        try {
            FileSystem fs = folder.getFileSystem(conf);
            Path qualified = requireFolder(fs, folder);
            List<File> files = new ArrayList<>();
            for (String name : names) {
                try {
                    FileStatus f = fs.getFileStatus(new Path(qualified, name));
                    if (f.isFile()) {
                        files.add(new File(name, f.getLen(), f.getModificationTime()));
                    }
                } catch (FileNotFoundException absent) {
                    // optional files are simply not part of the listing
                }
            }
            return new FolderListing(qualified.toString(), files);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the folder " + location + ": " + e.getMessage(), e);
        }
    }

    public boolean has(String name) {
        return files.stream().anyMatch(f -> f.name().equals(name));
    }

    /**
     * SHA-256 over the location and each file's name, size and modification time. Every Hadoop file system sets a
     * file's modification time when the file is written (HDFS and object stores when it is closed), so a file
     * rewritten in place gets a new time even if its size stays; only a tool that sets the time back on purpose
     * could hide a change. The location is part of it because equal times and sizes say nothing about the content of
     * two different folders. File checksums would cost HDFS a round of requests per block, and s3a (by default) and
     * local disks offer none.
     */
    public String fingerprint() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update((location + "\n").getBytes(StandardCharsets.UTF_8));
            for (File f : files) {
                digest.update((f.name() + "\u0000" + f.size() + "\u0000" + f.modified() + "\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The folder as a local path, when it is on the local file system. */
    boolean isLocal() {
        return "file".equals(URI.create(location).getScheme());
    }

    java.nio.file.Path localFolder() {
        return java.nio.file.Path.of(URI.create(location));
    }

    /** The folder, qualified; an error naming it when it is missing or a file. */
    private static Path requireFolder(FileSystem fs, Path folder) throws IOException {
        Path qualified = fs.makeQualified(folder);
        FileStatus status;
        try {
            status = fs.getFileStatus(qualified);
        } catch (FileNotFoundException e) {
            throw new IllegalArgumentException(qualified + ": no such folder", e);
        }
        if (!status.isDirectory()) {
            throw new IllegalArgumentException(qualified + " is a file, not a folder");
        }
        return qualified;
    }
}
