package dev.sparktune.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real HDFS for a test class: one in-process {@link MiniDFSCluster} (a NameNode and one
 * DataNode on loopback ports, storage in a temporary folder), started before the class's first
 * test and shut down after its last. Tests reach it through {@link #conf()} and {@link #uri}.
 *
 * <pre>
 * &#64;RegisterExtension
 * static final MiniHdfs hdfs = new MiniHdfs();
 * ...
 * String run = hdfs.uri("/runs/x");   // hdfs://localhost:PORT/runs/x
 * </pre>
 */
public final class MiniHdfs implements BeforeAllCallback, AfterAllCallback {
    private Path storage;
    private MiniDFSCluster cluster;

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        storage = Files.createTempDirectory("minihdfs-");
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, storage.toString());
        cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        cluster.waitActive();
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        try {
            if (cluster != null) {
                // the cached client code under test got for this cluster; a later cluster may reuse the port
                FileSystem.get(cluster.getURI(), cluster.getConfiguration(0)).close();
                cluster.shutdown(true);
            }
        } finally {
            cluster = null;
            if (Files.exists(storage)) {    // shutdown(true) usually removes it already
                deleteTree(storage);
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> tree = Files.walk(root)) {
            for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A client configuration for the cluster; its {@code fs.defaultFS} is the cluster. */
    public Configuration conf() {
        return new Configuration(running().getConfiguration(0));
    }

    /** {@code hdfs://localhost:PORT}, the cluster's root. */
    public String uri() {
        return running().getURI().toString();
    }

    /** {@code hdfs://localhost:PORT<absolutePath>}. */
    public String uri(String absolutePath) {
        if (!absolutePath.startsWith("/")) {
            throw new IllegalArgumentException("give an absolute path inside HDFS, got " + absolutePath);
        }
        return uri() + absolutePath;
    }

    /** The cluster's file system, for a test's own checks. */
    public FileSystem fileSystem() throws IOException {
        return running().getFileSystem();
    }

    private MiniDFSCluster running() {
        if (cluster == null) {
            throw new IllegalStateException("the HDFS cluster runs only between beforeAll and afterAll; register "
                    + "MiniHdfs as a static @RegisterExtension field");
        }
        return cluster;
    }
}
