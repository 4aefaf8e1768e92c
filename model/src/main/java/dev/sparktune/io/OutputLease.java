package dev.sparktune.io;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.ipc.RemoteException;

/**
 * The right of one run to write one output: a small JSON file beside the output naming its holder (run id, host,
 * process id, start time), created with {@code overwrite=false}, so a second run to the same output fails with a
 * message naming the first instead of mixing its files in.
 *
 * <p>Staleness: the holder rewrites the file every {@link #REFRESH_EVERY}; a lease whose file was last modified more
 * than {@code staleAfter} ago (default {@link #STALE_AFTER}, by the file system's clock against this machine's) is
 * taken as left by a crashed run and taken over; so is, at once, a lease whose holder ran on this host under a process
 * id that no longer exists (a prep killed or crashed on the same machine: the common case on a laptop). Two runs on
 * one host name in separate process namespaces (containers sharing a host name) would defeat that second rule; on a
 * cluster, drivers run on hosts of their own. Before it writes, the holder checks that the file still names it
 * ({@link #checkHeld}). On HDFS and local files the create is atomic; on s3a it is a look-up then a write, so two
 * runs started within the same second can both get it.
 */
public final class OutputLease implements Closeable {
    public static final Duration STALE_AFTER = Duration.ofMinutes(10);
    static final Duration REFRESH_EVERY = Duration.ofMinutes(1);

    private final FileSystem fs;
    private final Path file;
    private final String runId;
    private final String holder;
    private final ScheduledExecutorService refresher;

    private OutputLease(FileSystem fs, Path file, String runId, String holder) {
        this.fs = fs;
        this.file = file;
        this.runId = runId;
        this.holder = holder;
        this.refresher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "lease " + file.getName());
            t.setDaemon(true);
            return t;
        });
        long every = REFRESH_EVERY.toMillis();
        refresher.scheduleWithFixedDelay(this::refresh, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Takes the lease at {@code file} for run {@code runId}.
     *
     * @throws IllegalStateException when another run holds it and it is not stale
     */
    public static OutputLease acquire(FileSystem fs, Path file, String runId, Duration staleAfter) throws IOException {
        String holder = holder(runId);
        for (int attempt = 0; ; attempt++) {
            try {
                create(fs, file, holder);
                return new OutputLease(fs, file, runId, holder);
            } catch (IOException notCreated) {
                if (!taken(notCreated)) {
                    throw notCreated;
                }
                FileStatus status;
                String other;
                try {
                    status = fs.getFileStatus(file);
                    other = HadoopFiles.readString(fs, file);
                } catch (java.io.FileNotFoundException released) {
                    continue;    // released between our create and our look
                }
                Duration age = Duration.ofMillis(Math.max(0, System.currentTimeMillis() - status.getModificationTime()));
                if ((age.compareTo(staleAfter) < 0 && !holderGoneFromThisHost(other)) || attempt > 0) {
                    String by = other.isBlank() ? "a run creating it now" : other.strip();
                    throw new IllegalStateException(file.getParent() + ": another run is writing this output (lease "
                            + file + ", held by " + by + ", refreshed " + age.toSeconds() + " s ago); wait"
                            + " for it to finish. If no such run is alive, delete " + file + ", or wait: a lease not"
                            + " refreshed for " + staleAfter.toMinutes() + " minutes is taken over.");
                }
                fs.delete(file, false);    // stale: its holder stopped refreshing it
            }
        }
    }

    /**
     * Fails unless the lease file still names this run (a run paused past the staleness limit loses it).
     * Synchronized with {@link #refresh}, so it never reads the file half-rewritten.
     */
    public synchronized void checkHeld() throws IOException {
        String now;
        try {
            now = HadoopFiles.readString(fs, file);
        } catch (java.io.FileNotFoundException gone) {
            now = "nothing";
        }
        if (!runId.equals(runIdOf(now))) {
            throw new IllegalStateException("run " + runId + " lost its lease " + file + " (it now holds "
                    + now.strip() + "); not committing over another run's output");
        }
    }

    /** Stops refreshing and leaves the file, as a crashed holder does (tests stop a commit midway with it). */
    void abandon() {
        refresher.shutdownNow();
    }

    @Override
    public void close() throws IOException {
        refresher.shutdownNow();
        try {
            checkHeld();
        } catch (IllegalStateException notOurs) {
            return;
        }
        fs.delete(file, false);
    }

    private synchronized void refresh() {
        try {
            checkHeld();
            write(fs, file, holder, true);
        } catch (IOException | RuntimeException e) {
            refresher.shutdown();    // checkHeld fails later, before any write, with the reason
        }
    }

    /**
     * Whether a create failed because the file exists, or (HDFS) because another client is creating it right now.
     */
    private static boolean taken(IOException e) {
        return e instanceof FileAlreadyExistsException
                || e instanceof RemoteException remote && remote.getClassName().endsWith("AlreadyBeingCreatedException");
    }

    /**
     * Creates the lease file, failing with {@link FileAlreadyExistsException} when it exists. On local disks with an
     * exclusive create ({@code O_EXCL}): Hadoop's local {@code create(overwrite=false)} is a look-up then a write.
     */
    private static void create(FileSystem fs, Path file, String text) throws IOException {
        FileSystem raw = fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
        Optional<java.nio.file.Path> local = HadoopFiles.localFile(raw, file);
        if (local.isEmpty()) {
            write(fs, file, text, false);
            return;
        }
        Files.createDirectories(local.get().getParent());
        try {
            Files.write(local.get(), text.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new FileAlreadyExistsException(file + " exists");
        }
    }

    private static void write(FileSystem fs, Path file, String text, boolean overwrite) throws IOException {
        try (FSDataOutputStream out = fs.create(file, overwrite)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            HadoopFiles.sync(out);
        }
    }

    private static String holder(String runId) {
        JsonObject json = new JsonObject();
        json.addProperty("run", runId);
        try {
            json.addProperty("host", InetAddress.getLocalHost().getHostName());
        } catch (IOException unknown) {
            json.addProperty("host", "unknown");
        }
        json.addProperty("pid", ProcessHandle.current().pid());
        json.addProperty("user", System.getProperty("user.name"));
        json.addProperty("started", Instant.now().toString());
        return json + "\n";
    }

    /** Whether the lease names this host and a process id no process here has any more. */
    private static boolean holderGoneFromThisHost(String lease) {
        try {
            JsonObject holder = JsonParser.parseString(lease).getAsJsonObject();
            if (!holder.has("host") || !holder.has("pid")
                    || !holder.get("host").getAsString().equals(InetAddress.getLocalHost().getHostName())) {
                return false;
            }
            return ProcessHandle.of(holder.get("pid").getAsLong()).map(p -> !p.isAlive()).orElse(true);
        } catch (IOException | RuntimeException unreadable) {
            return false;     // being created right now, or not ours to judge: only staleness decides
        }
    }

    private static String runIdOf(String lease) {
        try {
            return JsonParser.parseString(lease).getAsJsonObject().get("run").getAsString();
        } catch (RuntimeException unreadable) {
            return null;
        }
    }
}
