package dev.sparktune.train;

import dev.sparktune.io.CheckpointException;
import dev.sparktune.io.HadoopFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One writer's claim on the checkpoints of an output folder, so that a writer left over from a failed Spark stage
 * attempt (a "zombie" rank 0 still saving) cannot commit or delete checkpoints once a newer attempt has started.
 *
 * <p>Claiming creates {@code _writer-<generation>} in the output folder, one past the highest generation there, and
 * removes the older claims: generations only grow, across stage attempts and across reruns of a job alike. The file
 * holds the stage attempt (for people) and a random token. Before each commit (rename into place, marker) and each
 * removal, the writer {@link #check checks} that its claim is still the newest and still its own (a folder wiped and
 * claimed afresh reuses numbers; the token tells them apart), and refuses otherwise.
 *
 * <p>What remains: the check and the act that follows are two steps on file systems without compare-and-set, so a
 * newer attempt that claims in between (within one rename or delete of the writer's check) does not stop that one
 * act; the writer's next check refuses. A newer attempt claims before it picks the checkpoint to resume from, so
 * the zombie act in that gap can only touch checkpoints older than the zombie's own newest committed one, which the
 * newer attempt then picks. Claims themselves are created with {@code overwrite=false}, which is atomic on HDFS but
 * a check-then-create on the local disk and s3a: two claims in the same instant may both believe they are newest
 * until one of them checks again.
 */
public final class CheckpointFence {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointFence.class);
    static final String PREFIX = "_writer-";
    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "(\\d{1,18})");

    private final FileSystem fs;
    private final Path dir;
    private final long generation;
    private final int attempt;
    private final String token;

    private CheckpointFence(FileSystem fs, Path dir, long generation, int attempt, String token) {
        this.fs = fs;
        this.dir = dir;
        this.generation = generation;
        this.attempt = attempt;
        this.token = token;
    }

    /**
     * Claims {@code output}'s checkpoints for a writer of Spark stage attempt {@code attempt} (0 outside Spark), ahead
     * of every earlier claim.
     */
    public static CheckpointFence claim(OutputFolder output, int attempt) {
        Path given = new Path(output.location());
        try {
            FileSystem fs = HadoopFiles.fileSystem(given, output.conf());
            Path dir = fs.makeQualified(given);
            if (!fs.mkdirs(dir)) {
                throw new IOException("cannot create the folder " + dir);
            }
            String token = UUID.randomUUID().toString();
            long generation = newest(fs, dir) + 1;
            while (true) {
                try {
                    HadoopFiles.writeDurably(fs, new Path(dir, PREFIX + generation), "stage attempt " + attempt + "\n"
                            + token + "\n");
                    break;
                } catch (FileAlreadyExistsException e) {
                    generation++;      // another writer claimed that generation in the same instant
                }
            }
            // the older claims are of no use now: every check compares with the newest
            for (FileStatus entry : fs.listStatus(dir)) {
                Long other = generationOf(entry.getPath().getName());
                if (other != null && other < generation) {
                    fs.delete(entry.getPath(), false);
                }
            }
            LOG.info("stage attempt {} claims the checkpoints of {} as writer {}", attempt, dir, generation);
            return new CheckpointFence(fs, dir, generation, attempt, token);
        } catch (IOException e) {
            throw new CheckpointException(output.location(), null, "cannot claim the checkpoints for writing: " + e, e);
        }
    }

    public long generation() {
        return generation;
    }

    public int attempt() {
        return attempt;
    }

    /** The output folder, qualified by its file system. */
    Path folder() {
        return dir;
    }

    /**
     * Fails with a {@link CheckpointException} when a newer writer has claimed the folder since this one did, or its
     * claim is gone; called right before {@code action}, which it names. Besides checkpoints, the final export and
     * {@code sparktune run}'s removal of stale checkpoints are fenced with it.
     */
    public void check(String action) throws IOException {
        long newest = newest(fs, dir);
        if (newest > generation) {
            throw refused(action, "a newer writer (" + PREFIX + newest + ", a later stage attempt or a rerun) has claimed "
                    + "the folder since");
        }
        String claim;
        try {
            claim = HadoopFiles.readString(fs, new Path(dir, PREFIX + generation));
        } catch (FileNotFoundException e) {
            claim = "";
        }
        if (!claim.contains(token)) {
            throw refused(action, "its claim " + PREFIX + generation + " was removed or replaced (the folder was "
                    + "cleared and claimed again)");
        }
    }

    private CheckpointException refused(String action, String why) {
        return new CheckpointException(dir.toString(), "refusing to " + action + ": this writer (stage attempt "
                + attempt + ", " + PREFIX + generation + ") was superseded: " + why + "; the newer writer owns the "
                + "checkpoints now");
    }

    /** The highest generation claimed in {@code dir}, 0 when none. */
    private static long newest(FileSystem fs, Path dir) throws IOException {
        long newest = 0;
        FileStatus[] entries;
        try {
            entries = fs.listStatus(dir);
        } catch (FileNotFoundException e) {
            return 0;
        }
        for (FileStatus entry : entries) {
            Long generation = generationOf(entry.getPath().getName());
            if (generation != null) {
                newest = Math.max(newest, generation);
            }
        }
        return newest;
    }

    private static Long generationOf(String name) {
        Matcher m = NAME.matcher(name);
        return m.matches() ? Long.parseLong(m.group(1)) : null;
    }
}
