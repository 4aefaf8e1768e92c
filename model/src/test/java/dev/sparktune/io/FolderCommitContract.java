package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What {@link FolderCommit} promises, on one file system: each subclass runs these on its own (local files, HDFS,
 * s3a). An output is a folder of a few files whose contents name their version, so a reader can tell the previous
 * output, the new one and a mixture apart.
 */
abstract class FolderCommitContract {
    /** The file system under test. */
    abstract FileSystem fs() throws IOException;

    /** A fresh folder on it for one test. */
    abstract Path root() throws IOException;

    private static final Duration STALE_AT_ONCE = Duration.ZERO;

    /** One step of a commit. */
    private interface Step {
        void run() throws IOException;
    }

    /** Writes output {@code version} into {@code folder}: three data files and one in a sub-folder. */
    private void writeVersion(Path folder, String version) throws IOException {
        write(new Path(folder, "part-00000.parquet"), version + " rows 0\n");
        write(new Path(folder, "part-00001.parquet"), version + " rows 1\n".repeat(version.length()));
        write(new Path(folder, "task=spam/part-00000.parquet"), version + " spam\n");
        write(new Path(folder, "_SUCCESS"), "");    // as Spark's write leaves the staging folder
    }

    private void write(Path file, String text) throws IOException {
        try (FSDataOutputStream out = fs().create(file, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Every file under {@code folder} but the marker, with its content. */
    private Map<String, String> contents(Path folder) throws IOException {
        Map<String, String> files = new TreeMap<>();
        String root = fs().getFileStatus(folder).getPath().toUri().getPath();
        RemoteIterator<LocatedFileStatus> all = fs().listFiles(folder, true);
        while (all.hasNext()) {
            Path file = all.next().getPath();
            String relative = file.toUri().getPath().substring(root.length() + 1);
            if (!relative.equals(CommitMarker.NAME)) {
                files.put(relative, HadoopFiles.readString(fs(), file));
            }
        }
        return files;
    }

    /** The files output {@code version} holds once committed. */
    private Map<String, String> expected(String version) throws IOException {
        Path scratch = new Path(root(), "expected-" + version);
        writeVersion(scratch, version);
        Map<String, String> files = contents(scratch);
        fs().delete(scratch, true);
        return files;
    }

    /** A complete commit of {@code version} to {@code target}. */
    private void commit(Path target, String version) throws IOException {
        try (FolderCommit commit = FolderCommit.begin(fs(), target)) {
            // Spark's reader skips a folder whose own name starts with _ or ., so the staged one keeps the target's
            assertEquals(target.getName(), commit.staging().getName());
            writeVersion(commit.staging(), version);
            commit.commit(folder -> write(new Path(folder, "_fingerprint"), version));
        }
    }

    private List<String> namesIn(Path folder) throws IOException {
        List<String> names = new ArrayList<>();
        for (FileStatus f : fs().listStatus(folder)) {
            names.add(f.getPath().getName());
        }
        return names;
    }

    @Test
    void aCommitReplacesTheOutputAndItsMarkerListsEveryFileWithItsSize() throws IOException {
        Path target = new Path(root(), "out");
        commit(target, "v1");
        commit(target, "v2");

        Map<String, String> v2 = expected("v2");
        v2.put("_fingerprint", "v2");
        assertEquals(v2, contents(target));
        assertEquals(Optional.empty(), CommitMarker.problem(fs(), target));
        String marker = HadoopFiles.readString(fs(), new Path(target, CommitMarker.NAME));
        assertTrue(marker.contains("\"task=spam/part-00000.parquet\":8"), marker);
        assertTrue(marker.contains("\"_fingerprint\":2"), marker);
        // nothing is left beside it: no staging folder, kept copy or lease
        assertEquals(List.of("out"), namesIn(target.getParent()));
    }

    @Test
    void theMarkerCatchesAMissingOrTruncatedFileAndAnEmptySparkMarker() throws IOException {
        Path target = new Path(root(), "out");
        commit(target, "v1");
        write(new Path(target, "part-00001.parquet"), "v1 rows 1\n");    // shorter than committed
        assertTrue(CommitMarker.problem(fs(), target).orElseThrow().contains("part-00001.parquet holds"));

        commit(target, "v1");
        fs().delete(new Path(target, "task=spam/part-00000.parquet"), false);
        assertTrue(CommitMarker.problem(fs(), target).orElseThrow().contains("task=spam/part-00000.parquet is missing"));

        write(new Path(target, CommitMarker.NAME), "");
        assertTrue(CommitMarker.problem(fs(), target).orElseThrow().contains("does not list the committed files"));
    }

    /**
     * A prep job killed after each step of its commit: a reader then finds the previous output (in place, or kept
     * aside and named in the error), or the new one complete; never a mixture, never neither. The next run puts the
     * previous output back (or keeps the sealed new one) before doing anything else.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4})
    void aCommitKilledAfterAnyStepLeavesThePreviousOutputOrTheCompleteNewOne(int stepsDone) throws IOException {
        Path target = new Path(root(), "out");
        commit(target, "v1");
        Map<String, String> v1 = contents(target);

        FolderCommit killed = FolderCommit.begin(fs(), target);
        writeVersion(killed.staging(), "v2");
        FolderCommit.Markers fingerprint = folder -> write(new Path(folder, "_fingerprint"), "v2");
        List<Step> steps = List.of(killed::moveOldAside, killed::moveNewIn, () -> killed.seal(fingerprint),
                killed::dropAside);
        for (Step step : steps.subList(0, stepsDone)) {
            step.run();
        }
        killed.abandon();

        Optional<String> problem = FolderCommit.problem(fs(), target);
        boolean newSealed = stepsDone >= 3;
        if (newSealed) {
            assertEquals(Optional.empty(), problem);
            assertEquals("v2", contents(target).get("_fingerprint"));
        } else if (stepsDone == 0) {
            assertEquals(Optional.empty(), problem);
            assertEquals(v1, contents(target));
        } else {
            // the previous output was moved aside: the reader is told where it is and to rerun prep
            assertTrue(problem.orElseThrow().contains("the previous complete output was kept at"), problem.get());
            Path kept = new Path(problem.get().replaceAll(".* kept at (\\S+) .*", "$1"));
            assertEquals(v1, contents(kept));
        }

        // the next run, once the dead run's lease is stale, repairs the output first
        try (FolderCommit next = FolderCommit.begin(fs(), target, STALE_AT_ONCE)) {
            assertEquals(Optional.empty(), CommitMarker.problem(fs(), target));
            assertEquals(newSealed ? "v2" : "v1", contents(target).get("_fingerprint"));
            assertFalse(fs().exists(killed.staging()), "the dead run's staging folder is removed");
            assertNotEquals(killed.staging(), next.staging(), "staging folders are per run");
        }
        assertEquals(List.of("out"), namesIn(target.getParent()));
    }

    @Test
    void aCommitThatFailsBeforeItsMarkerPutsThePreviousOutputBack() throws IOException {
        Path target = new Path(root(), "out");
        commit(target, "v1");
        Map<String, String> v1 = contents(target);
        try (FolderCommit failing = FolderCommit.begin(fs(), target)) {
            writeVersion(failing.staging(), "v2");
            IOException thrown = assertThrows(IOException.class, () -> failing.commit(folder -> {
                throw new IOException("disk full while writing the fingerprint");
            }));
            assertEquals("disk full while writing the fingerprint", thrown.getMessage());
        }
        assertEquals(Optional.empty(), CommitMarker.problem(fs(), target));
        assertEquals(v1, contents(target));
        assertEquals(List.of("out"), namesIn(target.getParent()));
    }

    /** On s3a a folder rename is a copy per file: one that stops half-way leaves some files and no marker. */
    @Test
    void aNewOutputCopiedOnlyInPartIsNeverTakenForComplete() throws IOException {
        Path target = new Path(root(), "out");
        commit(target, "v1");
        FolderCommit killed = FolderCommit.begin(fs(), target);
        writeVersion(killed.staging(), "v2");
        killed.moveOldAside();
        write(new Path(target, "part-00000.parquet"), "v2 rows 0\n");    // the copy got this far
        killed.abandon();

        assertTrue(FolderCommit.problem(fs(), target).orElseThrow().contains("has no _SUCCESS marker"));
        try (FolderCommit next = FolderCommit.begin(fs(), target, STALE_AT_ONCE)) {
            assertEquals("v1", contents(target).get("_fingerprint"));
            assertEquals(Optional.empty(), CommitMarker.problem(fs(), target));
        }
    }

    @Test
    void aSecondRunToTheSameOutputFailsNamingTheFirstInsteadOfMixingFiles() throws IOException {
        Path target = new Path(root(), "out");
        try (FolderCommit first = FolderCommit.begin(fs(), target)) {
            writeVersion(first.staging(), "first");
            IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> FolderCommit.begin(fs(), target));
            assertTrue(refused.getMessage().contains("another run is writing this output"), refused.getMessage());
            assertTrue(refused.getMessage().contains("\"pid\":" + ProcessHandle.current().pid()), refused.getMessage());
            assertTrue(refused.getMessage().contains("_lease-out"), refused.getMessage());
            first.commit(folder -> { });
        }
        assertEquals(expected("first"), contents(target));
        commit(target, "second");    // the lease was released
        assertEquals("second", contents(target).get("_fingerprint"));
    }

    @Test
    void aStaleLeaseIsTakenOverAndItsFormerHolderCannotCommit() throws IOException {
        Path target = new Path(root(), "out");
        FolderCommit paused = FolderCommit.begin(fs(), target);
        writeVersion(paused.staging(), "paused");
        paused.abandon();    // stops refreshing its lease, as a run paused past the staleness limit

        try (FolderCommit taker = FolderCommit.begin(fs(), target, STALE_AT_ONCE)) {
            assertFalse(fs().exists(paused.staging()));
            writeVersion(paused.staging(), "paused");    // it wakes up and writes on
            IllegalStateException lost = assertThrows(IllegalStateException.class, paused::moveOldAside);
            assertTrue(lost.getMessage().contains("lost its lease"), lost.getMessage());
            writeVersion(taker.staging(), "taker");
            taker.commit(folder -> write(new Path(folder, "_fingerprint"), "taker"));
        }
        assertEquals("taker", contents(target).get("_fingerprint"));
    }

    /** Whether the file system creates a file atomically when it must not exist (not s3a: a look-up, then a put). */
    boolean createsAtomically() {
        return true;
    }

    @Test
    void ofRunsStartingTogetherExactlyOneGetsTheOutput() throws Exception {
        assumeTrue(createsAtomically(), "s3a creates the lease with a look-up then a write (see OutputLease)");
        Path target = new Path(root(), "out");
        int runs = 6;
        ExecutorService threads = Executors.newFixedThreadPool(runs);
        CyclicBarrier start = new CyclicBarrier(runs);
        try {
            List<Future<FolderCommit>> begun = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                begun.add(threads.submit(() -> {
                    start.await();
                    return FolderCommit.begin(fs(), target);
                }));
            }
            List<FolderCommit> winners = new ArrayList<>();
            int refused = 0;
            for (Future<FolderCommit> run : begun) {
                try {
                    winners.add(run.get());
                } catch (ExecutionException e) {
                    assertTrue(e.getCause() instanceof IllegalStateException, e.getCause().toString());
                    refused++;
                }
            }
            assertEquals(1, winners.size(), "runs that got the lease");
            assertEquals(runs - 1, refused);
            winners.get(0).close();
        } finally {
            threads.shutdownNow();
        }
    }

    /** A unique name per test on a shared file system. */
    static String unique() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
