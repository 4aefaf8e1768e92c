package dev.sparktune.testing;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under the scheme {@code slowfs:} ({@code slowfs:/tmp/x} is {@code /tmp/x}), whose
 * {@code create} of a file with a given name first sleeps: a real, slow storage for saves that take longer than a
 * collective timeout. Every instance reads its delay from the configuration it was opened with ({@link #conf}), so
 * two writers of one folder can be slow and fast.
 */
public final class SlowCreateFileSystem extends RawLocalFileSystem {
    public static final String SCHEME = "slowfs";
    private static final URI ROOT = URI.create(SCHEME + ":///");
    private static final String DELAY_MS = "slowfs.create.delay.ms";
    private static final String DELAY_NAME = "slowfs.create.delay.name";

    private long delayMillis;
    private String delayedName;

    /**
     * A configuration that opens {@code slowfs:} paths with this file system, sleeping {@code millis} before each
     * create of a file named {@code fileName}.
     */
    public static Configuration conf(long millis, String fileName) {
        Configuration conf = new Configuration();
        settings(millis, fileName).forEach(conf::set);
        return conf;
    }

    /** The Hadoop settings of {@link #conf}, e.g. to pass to Spark executors as {@code spark.hadoop.<key>}. */
    public static Map<String, String> settings(long millis, String fileName) {
        return Map.of("fs." + SCHEME + ".impl", SlowCreateFileSystem.class.getName(),
                "fs." + SCHEME + ".impl.disable.cache", "true",    // each configuration its own delay
                DELAY_MS, Long.toString(millis),
                DELAY_NAME, fileName);
    }

    /** {@code slowfs:<absolute path>}, the location of a local folder on this file system. */
    public static String location(java.nio.file.Path local) {
        return SCHEME + ":" + local.toAbsolutePath().normalize();
    }

    @Override
    public void initialize(URI uri, Configuration conf) throws IOException {
        super.initialize(uri, conf);
        delayMillis = conf.getLong(DELAY_MS, 0);
        delayedName = conf.get(DELAY_NAME, "");
    }

    @Override
    public URI getUri() {
        return ROOT;
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
                                     Progressable progress) throws IOException {
        pause(f);
        return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize, short replication,
                                     long blockSize, Progressable progress) throws IOException {
        pause(f);
        return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
    }

    private void pause(Path f) throws InterruptedIOException {
        if (f.getName().equals(delayedName)) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while slowly creating " + f);
            }
        }
    }
}
