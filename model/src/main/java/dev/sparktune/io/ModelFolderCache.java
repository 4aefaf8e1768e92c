package dev.sparktune.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Model folders as local folders, whatever file system they live on: loading weights, tokenizers and chat templates
 * needs local files. Every executor-side reader of a model folder (training ranks, scoring, the tokenize stage) goes
 * through {@link #jvm()}, the one cache of its JVM.
 *
 * <ul>
 *   <li><b>Key.</b> A copy is named by its {@link FolderListing#fingerprint()} (location, file names, sizes and
 *       modification times), so files rewritten in place get a new copy, never a stale one.</li>
 *   <li><b>Once per JVM.</b> The first {@link #acquire} of a fingerprint copies the listed files; concurrent requests
 *       for it wait for that one copy. A folder on the local file system is used in place.</li>
 *   <li><b>Never half a copy.</b> Files are copied into a hidden temporary folder that is renamed into place when
 *       complete; a file that changed since it was listed, or any failure, deletes the temporary folder and the next
 *       request starts afresh.</li>
 *   <li><b>Leases.</b> A copy is in use while a {@link Lease} on it is open. When a lease closes, the unused copies
 *       beyond {@code maxUnused} are deleted, least recently used first; a copy in use is never deleted. So the disk
 *       holds the copies in use plus at most {@code maxUnused} others, kept for a later task that needs them.</li>
 *   <li><b>Exit.</b> The JVM's cache folder is deleted when the JVM exits.</li>
 * </ul>
 */
public final class ModelFolderCache {
    /** Unused copies the JVM's cache keeps: a model and its adapter, for the next task that scores with them. */
    static final int JVM_MAX_UNUSED = 2;

    private final java.nio.file.Path root;
    private final int maxUnused;
    private final boolean localInPlace;
    private final Map<String, Copy> copies = new HashMap<>();   // by fingerprint; guarded by this
    private long clock;                                          // orders releases; guarded by this
    private final AtomicInteger copiesMade = new AtomicInteger();

    /**
     * @param root         where the copies go; it must exist
     * @param maxUnused    unused copies kept, at least 0
     * @param localInPlace whether a folder on the local file system is used where it is rather than copied
     */
    ModelFolderCache(java.nio.file.Path root, int maxUnused, boolean localInPlace) {
        if (maxUnused < 0) {
            throw new IllegalArgumentException("maxUnused must be at least 0, got " + maxUnused);
        }
        this.root = root;
        this.maxUnused = maxUnused;
        this.localInPlace = localInPlace;
    }

    /** This JVM's cache, in a temporary folder that is deleted when the JVM exits. */
    public static ModelFolderCache jvm() {
        return Jvm.CACHE;
    }

    private static final class Jvm {
        static final ModelFolderCache CACHE = create();

        private static ModelFolderCache create() {
            try {
                java.nio.file.Path root = Files.createTempDirectory("sparktune-models-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> LocalFolders.deleteQuietly(root),
                        "sparktune-remove-model-copies"));
                return new ModelFolderCache(root, JVM_MAX_UNUSED, true);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a temporary folder for model copies: " + e, e);
            }
        }
    }

    /** A local folder holding the listed files, valid until the lease is closed. */
    public final class Lease implements AutoCloseable {
        private final java.nio.file.Path folder;
        private final Copy copy;    // null for a folder used in place
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(java.nio.file.Path folder, Copy copy) {
            this.folder = folder;
            this.copy = copy;
        }

        public java.nio.file.Path folder() {
            return folder;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true) && copy != null) {
                release(copy);
            }
        }
    }

    /** Every file under {@code location}, as a local folder; see {@link FolderListing#of(Configuration, String)}. */
    public Lease acquire(Configuration conf, String location) {
        return acquire(FolderListing.of(conf, location), conf);
    }

    /** The listed files as a local folder, copied unless this JVM has them already or they are local. */
    public Lease acquire(FolderListing folder, Configuration conf) {
        if (localInPlace && folder.isLocal()) {
            return new Lease(folder.localFolder(), null);
        }
        String key = folder.fingerprint();
        Copy copy;
        synchronized (this) {
            copy = copies.computeIfAbsent(key, k -> new Copy(k, root.resolve(k)));
            copy.leases++;
        }
        try {
            copy.fill(folder, conf);
        } catch (RuntimeException | Error e) {
            release(copy);
            throw e;
        }
        return new Lease(copy.path, copy);
    }

    /** How many copies this cache has made; a test's view of "copied once". */
    int copiesMade() {
        return copiesMade.get();
    }

    private synchronized void release(Copy copy) {
        copy.leases--;
        copy.lastUsed = ++clock;
        if (copy.leases == 0 && !copy.filled) {
            copies.remove(copy.key);    // a failed copy: nothing on disk to keep
        }
        List<Copy> unused = new ArrayList<>();
        for (Copy c : copies.values()) {
            if (c.leases == 0) {
                unused.add(c);
            }
        }
        unused.sort(Comparator.comparingLong(c -> c.lastUsed));
        // deleted under the lock: a new request for the same key must not start copying into a folder being deleted
        for (Copy c : unused.subList(0, Math.max(0, unused.size() - maxUnused))) {
            copies.remove(c.key);
            LocalFolders.deleteQuietly(c.path);
        }
    }

    /** One folder's copy; its lease count and use time are guarded by the cache, its filling by itself. */
    private final class Copy {
        final String key;
        final java.nio.file.Path path;
        int leases;
        long lastUsed;
        volatile boolean filled;

        Copy(String key, java.nio.file.Path path) {
            this.key = key;
            this.path = path;
        }

        /** Copies the files unless an earlier request did; concurrent callers wait here for the first one. */
        synchronized void fill(FolderListing folder, Configuration conf) {
            if (filled) {
                return;
            }
            java.nio.file.Path temporary = root.resolve("." + key + "." + UUID.randomUUID());
            try {
                copyFiles(folder, conf, temporary);
                Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE);
                filled = true;
                copiesMade.incrementAndGet();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot copy " + folder.location() + " to " + path + ": " + e, e);
            } finally {
                if (!filled) {
                    LocalFolders.deleteQuietly(temporary);
                }
            }
        }
    }

    /** Copies each listed file, checking first that it is still the file that was listed. */
    private static void copyFiles(FolderListing folder, Configuration conf, java.nio.file.Path target)
            throws IOException {
        Path source = new Path(folder.location());
        FileSystem fs = source.getFileSystem(conf);
        Files.createDirectories(target);
        for (FolderListing.File f : folder.files()) {
            Path file = new Path(source, f.name());
            FileStatus now = fs.getFileStatus(file);
            if (now.getLen() != f.size() || now.getModificationTime() != f.modified()) {
                throw new IllegalStateException(file + " changed after the folder was listed (" + f.size()
                        + " bytes, modified " + f.modified() + "; now " + now.getLen() + " bytes, modified "
                        + now.getModificationTime() + "); run the job again once the folder is complete");
            }
            java.nio.file.Path local = target.resolve(f.name());
            Files.createDirectories(local.getParent());
            try (InputStream in = fs.open(file)) {
                long copied = Files.copy(in, local);
                if (copied != f.size()) {
                    throw new IOException(file + ": read " + copied + " bytes of " + f.size());
                }
            }
        }
    }
}
