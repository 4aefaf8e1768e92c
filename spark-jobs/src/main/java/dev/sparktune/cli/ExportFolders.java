package dev.sparktune.cli;

import dev.sparktune.io.LocalFolders;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.apache.spark.sql.SparkSession;

/**
 * The folders of one {@code sparktune export} as local folders, since merging and writing safetensors need local
 * files. A plain path or a {@code file:} URI is used in place. A folder on another Hadoop file system
 * ({@code hdfs://}, {@code s3a://}) is read from a local copy, and the export to one is written to a local folder that
 * {@link #publish} uploads beside the target and renames into place once it is complete. The copies are deleted on
 * {@link #close}.
 */
final class ExportFolders implements AutoCloseable {
    private final Configuration conf;
    private Path scratch;
    private String remoteTarget;
    private Path localTarget;

    /** On the session's Hadoop settings when a command runs in one, else on those spark-submit passes. */
    ExportFolders() {
        this(hadoopConf());
    }

    ExportFolders(Configuration conf) {
        this.conf = conf;
    }

    /**
     * {@code location} as a local folder: in place, or a copy of its {@code subfolders} that exist (of all of it when
     * none are named). A missing remote folder gives an empty local one, so the caller's checks name what is missing.
     */
    Path read(String location, String... subfolders) {
        if (!isRemote(location)) {
            return local(location);
        }
        try {
            Path copy = Files.createDirectories(scratch().resolve("in-" + UUID.randomUUID()));
            org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(location);
            FileSystem fs = folder.getFileSystem(conf);
            if (subfolders.length == 0) {
                fs.copyToLocalFile(false, folder, new org.apache.hadoop.fs.Path(copy.resolve("folder").toUri()), true);
                return copy.resolve("folder");
            }
            for (String name : subfolders) {
                org.apache.hadoop.fs.Path child = new org.apache.hadoop.fs.Path(folder, name);
                if (fs.exists(child)) {
                    fs.copyToLocalFile(false, child, new org.apache.hadoop.fs.Path(copy.resolve(name).toUri()), true);
                }
            }
            return copy;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + location + ": " + e, e);
        }
    }

    /** Where the export to {@code location} is written: in place, or a local folder that {@link #publish} uploads. */
    Path target(String location) {
        if (!isRemote(location)) {
            return local(location).toAbsolutePath();
        }
        remoteTarget = location;
        try {
            localTarget = Files.createDirectories(scratch().resolve("out"))
                    .resolve(new org.apache.hadoop.fs.Path(location).getName());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder: " + e, e);
        }
        return localTarget;
    }

    /** Replaces the remote target with the local export written to {@link #target}: a hidden copy, then a rename. */
    void publish() {
        if (remoteTarget == null) {
            return;
        }
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(remoteTarget);
        org.apache.hadoop.fs.Path hidden = new org.apache.hadoop.fs.Path(target.getParent(),
                "." + target.getName() + "." + UUID.randomUUID());
        try {
            FileSystem fs = target.getFileSystem(conf);
            try {
                fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(localTarget.toUri()), hidden);
                fs.delete(target, true);
                if (!fs.rename(hidden, target)) {
                    throw new IOException("cannot rename " + hidden + " to " + target);
                }
            } finally {
                fs.delete(hidden, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the export to " + remoteTarget + ": " + e, e);
        }
    }

    Configuration conf() {
        return conf;
    }

    /** How the export's location is reported: the local path, or the remote URI. */
    String name(Path target) {
        return target.equals(localTarget) ? remoteTarget : target.toString();
    }

    @Override
    public void close() {
        LocalFolders.deleteQuietly(scratch);
    }

    private Path scratch() {
        if (scratch == null) {
            try {
                scratch = Files.createTempDirectory("sparktune-export-");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a temporary folder: " + e, e);
            }
        }
        return scratch;
    }

    private static boolean isRemote(String location) {
        return !location.startsWith("file:") && location.matches("^[a-zA-Z][a-zA-Z0-9+.-]+://.*");
    }

    private static Path local(String location) {
        return location.startsWith("file:") ? Path.of(URI.create(location)) : Path.of(location);
    }

    private static Configuration hadoopConf() {
        if (SparkSession.getActiveSession().isDefined()) {
            return SparkSession.getActiveSession().get().sparkContext().hadoopConfiguration();
        }
        if (SparkSession.getDefaultSession().isDefined()) {
            return SparkSession.getDefaultSession().get().sparkContext().hadoopConfiguration();
        }
        // spark.hadoop.* of spark-submit's properties, core-site.xml, and AWS keys from the environment
        return SparkHadoopUtil.get().newConfiguration(new SparkConf());
    }
}
