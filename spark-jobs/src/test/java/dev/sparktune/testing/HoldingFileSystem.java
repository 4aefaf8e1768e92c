package dev.sparktune.testing;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CreateFlag;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under the scheme {@code holdfs:} ({@code holdfs:/tmp/x} is {@code /tmp/x}) that stops one
 * kind of operation on matching paths in its tracks: a writer caught between two steps, held there until the test
 * releases it (a writer that wakes up late) or kills its process (a writer that never wakes up). On holding, it
 * creates a signal file; it goes on once a file of the signal's name plus {@code .release} exists. Files make the
 * signal work across processes: the held writer may be a separate JVM.
 */
public final class HoldingFileSystem extends RawLocalFileSystem {
    public static final String SCHEME = "holdfs";
    private static final URI ROOT = URI.create(SCHEME + ":///");
    private static final String OPERATION = "holdfs.hold.operation";
    private static final String PATH = "holdfs.hold.path";
    private static final String SIGNAL = "holdfs.hold.signal";

    /** What is held: a create (also non-recursive), the rename to a matching destination, or a delete. */
    public enum Operation { CREATE, RENAME_TO, DELETE }

    private Operation operation;
    private Pattern path;
    private java.nio.file.Path signal;

    /**
     * The Hadoop settings that open {@code holdfs:} paths with this file system, holding each {@code operation} on a
     * path (its URI path) that matches {@code pathRegex}, and signalling through {@code signal}.
     */
    public static Map<String, String> settings(Operation operation, String pathRegex, java.nio.file.Path signal) {
        return Map.of("fs." + SCHEME + ".impl", HoldingFileSystem.class.getName(),
                "fs." + SCHEME + ".impl.disable.cache", "true",
                OPERATION, operation.name(),
                PATH, pathRegex,
                SIGNAL, signal.toAbsolutePath().toString());
    }

    public static Configuration conf(Operation operation, String pathRegex, java.nio.file.Path signal) {
        Configuration conf = new Configuration();
        settings(operation, pathRegex, signal).forEach(conf::set);
        return conf;
    }

    /** {@code holdfs:<absolute path>}, the location of a local folder on this file system. */
    public static String location(java.nio.file.Path local) {
        return SCHEME + ":" + local.toAbsolutePath().normalize();
    }

    /** Waits until a writer holds at {@code signal}; false when none did within {@code limit}. */
    public static boolean awaitHeld(java.nio.file.Path signal, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!Files.exists(signal)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /** Lets the writer held at {@code signal} go on. */
    public static void release(java.nio.file.Path signal) {
        try {
            Files.createFile(release(signal.toAbsolutePath().toString()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static java.nio.file.Path release(String signal) {
        return java.nio.file.Path.of(signal + ".release");
    }

    @Override
    public void initialize(URI uri, Configuration conf) throws IOException {
        super.initialize(uri, conf);
        String op = conf.get(OPERATION);
        operation = op == null ? null : Operation.valueOf(op);
        path = Pattern.compile(conf.get(PATH, "(?!)"));
        String s = conf.get(SIGNAL);
        signal = s == null ? null : java.nio.file.Path.of(s);
    }

    @Override
    public URI getUri() {
        return ROOT;
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    /**
     * Statuses without the local file system's lazily loaded permissions, which it reads through a {@code file:} URI
     * of the path and so fails on this scheme; nothing here needs them.
     */
    @Override
    public FileStatus getFileStatus(Path f) throws IOException {
        return plain(super.getFileStatus(f));
    }

    @Override
    public FileStatus[] listStatus(Path f) throws IOException {
        FileStatus[] statuses = super.listStatus(f);
        for (int i = 0; i < statuses.length; i++) {
            statuses[i] = plain(statuses[i]);
        }
        return statuses;
    }

    private static FileStatus plain(FileStatus s) {
        return new FileStatus(s.getLen(), s.isDirectory(), s.getReplication(), s.getBlockSize(),
                s.getModificationTime(), s.getPath());
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
                                     Progressable progress) throws IOException {
        holdIf(Operation.CREATE, f);
        return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
                                     short replication, long blockSize, Progressable progress) throws IOException {
        holdIf(Operation.CREATE, f);
        return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path f, FsPermission permission, EnumSet<CreateFlag> flags,
                                                 int bufferSize, short replication, long blockSize,
                                                 Progressable progress) throws IOException {
        holdIf(Operation.CREATE, f);
        return super.createNonRecursive(f, permission, flags, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream createNonRecursive(Path f, FsPermission permission, boolean overwrite, int bufferSize,
                                                 short replication, long blockSize, Progressable progress)
            throws IOException {
        holdIf(Operation.CREATE, f);
        return super.createNonRecursive(f, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
        holdIf(Operation.RENAME_TO, dst);
        return super.rename(src, dst);
    }

    @Override
    public boolean delete(Path p, boolean recursive) throws IOException {
        holdIf(Operation.DELETE, p);
        return super.delete(p, recursive);
    }

    private void holdIf(Operation op, Path p) throws IOException {
        if (op != operation || signal == null || !path.matcher(p.toUri().getPath()).matches()) {
            return;
        }
        if (!Files.exists(signal)) {
            Files.writeString(signal, op + " " + p + "\n");
        }
        java.nio.file.Path go = release(signal.toString());
        try {
            while (!Files.exists(go)) {
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while held before " + op + " " + p);
        }
    }
}
