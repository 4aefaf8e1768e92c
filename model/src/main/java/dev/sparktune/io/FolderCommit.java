package dev.sparktune.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Replaces an output folder (prep's prepared and tokenized outputs) on any Hadoop file system so that a crash at any
 * point leaves either the previous complete output or the new complete one, and two runs never mix their files.
 * Beside {@code target} (names starting with {@code _}, which Spark's readers skip):
 * <pre>
 *   _lease-NAME              {@link OutputLease}: the run allowed to write NAME
 *   _staging-NAME-RUN/NAME   this run's new output, written by the caller (its own name does not start with
 *                            {@code _}, which would make Spark's reader skip it when the caller reads it back)
 *   _previous-NAME-RUN       the previous output, kept until the new one is committed
 * </pre>
 * The steps of {@link #commit}, each callable alone (the tests stop a commit after each):
 * <ol>
 *   <li>{@link #moveOldAside}: rename {@code target} to {@code _previous-NAME-RUN};</li>
 *   <li>{@link #moveNewIn}: rename the staging folder to {@code target} (on s3a a copy per file, which may stop
 *       half-way);</li>
 *   <li>{@link #seal}: write the caller's own markers (the fingerprint), then {@link CommitMarker} listing every
 *       file: from here the new output is complete;</li>
 *   <li>{@link #dropAside}: delete the previous output.</li>
 * </ol>
 * A run that finds an interrupted commit ({@link #begin}, under the lease) repairs it: a complete {@code target}
 * wins and the kept copy is deleted; otherwise a complete kept copy is renamed back. Readers call {@link #problem},
 * which says where a kept copy lies.
 */
public final class FolderCommit implements Closeable {
    /** Writes markers of the caller's into the committed folder before {@link CommitMarker}. */
    public interface Markers {
        void writeInto(Path committed) throws IOException;
    }

    /** A run id: the first 13 characters of a random UUID. */
    private static final String RUN_ID = "[0-9a-f]{8}-[0-9a-f]{4}";

    private final FileSystem fs;
    private final Path target;
    private final String runId;
    private final OutputLease lease;

    private FolderCommit(FileSystem fs, Path target, String runId, OutputLease lease) {
        this.fs = fs;
        this.target = target;
        this.runId = runId;
        this.lease = lease;
    }

    /** Takes the lease on {@code target}, repairs an interrupted earlier commit and removes dead runs' staging. */
    public static FolderCommit begin(FileSystem fs, Path target) throws IOException {
        return begin(fs, target, OutputLease.STALE_AFTER);
    }

    /** @param leaseStaleAfter how long another run's lease is honoured without being refreshed */
    public static FolderCommit begin(FileSystem fs, Path target, Duration leaseStaleAfter) throws IOException {
        Path qualified = fs.makeQualified(target);
        String runId = UUID.randomUUID().toString().substring(0, 13);
        fs.mkdirs(qualified.getParent());
        OutputLease lease = OutputLease.acquire(fs, sibling(qualified, "_lease-", ""), runId, leaseStaleAfter);
        try {
            recover(fs, qualified);
            for (Path dead : siblings(fs, qualified, "_staging-")) {
                fs.delete(dead, true);
            }
            return new FolderCommit(fs, qualified, runId, lease);
        } catch (IOException | RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    /** Where the caller writes the new output; unique to this run, and absent until the caller writes it. */
    public Path staging() {
        return new Path(stagingRoot(), target.getName());
    }

    private Path stagingRoot() {
        return sibling(target, "_staging-", "-" + runId);
    }

    public Path target() {
        return target;
    }

    /**
     * All four steps. When moving the new output in or sealing it fails (and this run still holds the lease), the
     * previous output is put back before the failure is thrown.
     */
    public void commit(Markers markers) throws IOException {
        moveOldAside();
        try {
            moveNewIn();
            seal(markers);
        } catch (IOException | RuntimeException e) {
            try {
                lease.checkHeld();
                recover(fs, target);
            } catch (IOException | RuntimeException notUndone) {
                e.addSuppressed(notUndone);
            }
            throw e;
        }
        dropAside();
    }

    public void moveOldAside() throws IOException {
        lease.checkHeld();
        if (!fs.exists(staging())) {
            throw new IOException("nothing to commit: " + staging() + " does not exist");
        }
        if (fs.exists(target) && !fs.rename(target, aside())) {
            throw new IOException("cannot rename the previous output " + target + " to " + aside());
        }
    }

    public void moveNewIn() throws IOException {
        // Spark's empty _SUCCESS of the staging write: the folder is not complete before seal
        fs.delete(new Path(staging(), CommitMarker.NAME), false);
        if (!fs.rename(staging(), target)) {
            throw new IOException("cannot rename " + staging() + " to " + target);
        }
    }

    public void seal(Markers markers) throws IOException {
        lease.checkHeld();
        markers.writeInto(target);
        CommitMarker.write(fs, target);
    }

    public void dropAside() throws IOException {
        fs.delete(aside(), true);
    }

    /** Releases the lease; a staging folder not committed is deleted. */
    @Override
    public void close() throws IOException {
        try {
            fs.delete(stagingRoot(), true);
        } finally {
            lease.close();
        }
    }

    /** Leaves the lease, staging and any kept copy as they are, as a run killed here would. */
    void abandon() {
        lease.abandon();
    }

    /**
     * Why {@code target} is not a complete committed output (empty when it is), and where the previous complete
     * output was kept when a commit stopped half-way.
     */
    public static Optional<String> problem(FileSystem fs, Path target) throws IOException {
        Path qualified = fs.makeQualified(target);
        Optional<String> problem = CommitMarker.problem(fs, qualified);
        if (problem.isEmpty()) {
            return problem;
        }
        for (Path kept : siblings(fs, qualified, "_previous-")) {
            if (CommitMarker.problem(fs, kept).isEmpty()) {
                return Optional.of(problem.get() + "; a commit stopped half-way, and the previous complete output was"
                        + " kept at " + kept + " (the next run to this output puts it back or replaces it)");
            }
        }
        return problem;
    }

    /**
     * Fails, saying to rerun prep, unless {@code location} is a complete committed output.
     *
     * @param what how the user names it, such as {@code data.tokenized_path}
     */
    public static void requireComplete(Configuration conf, String location, String what) {
        Optional<String> problem;
        try {
            Path path = new Path(location);
            problem = problem(path.getFileSystem(conf), path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + what + " " + location + ": " + e.getMessage(), e);
        }
        if (problem.isPresent()) {
            throw new IllegalArgumentException(what + " " + location + " is not a complete `sparktune prep` output: "
                    + problem.get() + ". Rerun `sparktune prep` to write it again.");
        }
    }

    /** Under the lease: finishes or undoes a commit that stopped between its steps. */
    private static void recover(FileSystem fs, Path target) throws IOException {
        List<Path> kept = siblings(fs, target, "_previous-");
        if (kept.isEmpty()) {
            return;
        }
        if (CommitMarker.problem(fs, target).isEmpty()) {
            for (Path old : kept) {    // stopped before dropAside
                fs.delete(old, true);
            }
            return;
        }
        for (Path old : kept) {
            if (CommitMarker.problem(fs, old).isEmpty()) {
                fs.delete(target, true);    // a half-moved or unsealed new output
                if (!fs.rename(old, target)) {
                    throw new IOException("cannot put the previous output " + old + " back at " + target);
                }
                break;
            }
        }
        for (Path old : siblings(fs, target, "_previous-")) {
            fs.delete(old, true);
        }
    }

    private Path aside() {
        return sibling(target, "_previous-", "-" + runId);
    }

    private static Path sibling(Path target, String prefix, String suffix) {
        return new Path(target.getParent(), prefix + target.getName() + suffix);
    }

    /** The folders beside {@code target} named {@code prefix + NAME + "-" + run}. */
    private static List<Path> siblings(FileSystem fs, Path target, String prefix) throws IOException {
        List<Path> found = new ArrayList<>();
        if (!fs.exists(target.getParent())) {
            return found;
        }
        String start = prefix + target.getName() + "-";
        for (FileStatus f : fs.listStatus(target.getParent())) {
            String name = f.getPath().getName();
            if (f.isDirectory() && name.startsWith(start) && name.substring(start.length()).matches(RUN_ID)) {
                found.add(f.getPath());
            }
        }
        return found;
    }
}
