package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model-folder cache on real files through Hadoop's local file system, copying local folders (as it copies
 * {@code hdfs://} ones) so that every copy is visible on disk.
 */
class ModelFolderCacheTest {
    private final Configuration conf = new Configuration();

    @TempDir
    Path dir;

    private Path folder(String name, String... fileAndContent) throws IOException {
        Path folder = Files.createDirectories(dir.resolve("sources").resolve(name));
        for (int i = 0; i < fileAndContent.length; i += 2) {
            Path file = folder.resolve(fileAndContent[i]);
            Files.createDirectories(file.getParent());
            Files.writeString(file, fileAndContent[i + 1]);
        }
        return folder;
    }

    private ModelFolderCache cache(int maxUnused) throws IOException {
        return new ModelFolderCache(Files.createDirectories(dir.resolve("cache")), maxUnused, false);
    }

    private FolderListing listing(Path folder) {
        return FolderListing.of(conf, folder.toString());
    }

    /** What the cache folder holds: one entry per complete copy, nothing else (no temporary folders). */
    private Set<String> cacheEntries() throws IOException {
        try (Stream<Path> entries = Files.list(dir.resolve("cache"))) {
            return entries.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    @Test
    void concurrentFirstRequestsCopyTheFolderOnceAndAllGetTheSameCompleteCopy() throws Exception {
        Path source = folder("llama", "config.json", "{\"model_type\": \"llama\"}", "model.safetensors",
                "x".repeat(1 << 20), "sub/tokenizer.json", "{}");
        ModelFolderCache cache = cache(2);
        FolderListing listing = listing(source);
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<ModelFolderCache.Lease>> leases = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                leases.add(pool.submit(() -> {
                    start.await();
                    return cache.acquire(listing, conf);
                }));
            }
            start.countDown();
            Set<Path> folders = new java.util.HashSet<>();
            for (Future<ModelFolderCache.Lease> lease : leases) {
                folders.add(lease.get().folder());
            }
            assertEquals(1, folders.size());
            assertEquals(1, cache.copiesMade());
            Path copy = folders.iterator().next();
            for (String name : List.of("config.json", "model.safetensors", "sub/tokenizer.json")) {
                assertArrayEquals(Files.readAllBytes(source.resolve(name)), Files.readAllBytes(copy.resolve(name)),
                        name);
            }
            assertEquals(Set.of(listing.fingerprint()), cacheEntries());
            for (Future<ModelFolderCache.Lease> lease : leases) {
                lease.get().close();
            }
            assertTrue(Files.isDirectory(copy), "an unused copy within the bound stays for the next task");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFolderRewrittenInPlaceGetsANewCopyWithTheNewContent() throws Exception {
        Path source = folder("model", "config.json", "{\"v\": 1}");
        ModelFolderCache cache = cache(2);
        Path first;
        try (ModelFolderCache.Lease lease = cache.acquire(listing(source), conf)) {
            first = lease.folder();
        }
        // same size, later modification time: what rewriting a file in place looks like
        Files.writeString(source.resolve("config.json"), "{\"v\": 2}");
        Files.setLastModifiedTime(source.resolve("config.json"),
                FileTime.fromMillis(Files.getLastModifiedTime(source.resolve("config.json")).toMillis() + 5_000));
        FolderListing changed = listing(source);
        try (ModelFolderCache.Lease lease = cache.acquire(changed, conf)) {
            assertNotEquals(first, lease.folder());
            assertEquals("{\"v\": 2}", Files.readString(lease.folder().resolve("config.json")));
        }
        assertEquals(2, cache.copiesMade());
        assertEquals("{\"v\": 1}", Files.readString(first.resolve("config.json")), "the old copy is untouched");
    }

    @Test
    void unusedCopiesBeyondTheBoundAreDeletedLeastRecentlyUsedFirst() throws Exception {
        ModelFolderCache cache = cache(2);
        FolderListing a = listing(folder("a", "config.json", "a"));
        FolderListing b = listing(folder("b", "config.json", "b"));
        FolderListing c = listing(folder("c", "config.json", "c"));
        for (FolderListing f : List.of(a, b, c)) {
            cache.acquire(f, conf).close();
        }
        assertEquals(Set.of(b.fingerprint(), c.fingerprint()), cacheEntries(), "a was used least recently");

        cache.acquire(b, conf).close();     // b is now the most recently used, served without copying
        assertEquals(3, cache.copiesMade());
        cache.acquire(a, conf).close();     // a is copied again, and c, now the oldest, goes
        assertEquals(4, cache.copiesMade());
        assertEquals(Set.of(a.fingerprint(), b.fingerprint()), cacheEntries());
    }

    @Test
    void aCopyInUseIsNeverDeletedAndGoesWhenItsLastLeaseCloses() throws Exception {
        ModelFolderCache cache = cache(0);
        FolderListing a = listing(folder("a", "config.json", "a"));
        FolderListing b = listing(folder("b", "config.json", "b"));
        ModelFolderCache.Lease first = cache.acquire(a, conf);
        ModelFolderCache.Lease second = cache.acquire(a, conf);
        cache.acquire(b, conf).close();
        assertEquals(Set.of(a.fingerprint()), cacheEntries(), "b, unused, is gone at once; a is in use");

        first.close();
        first.close();      // closing twice releases once
        assertTrue(Files.isRegularFile(second.folder().resolve("config.json")), "a still has a lease");
        second.close();
        assertEquals(Set.of(), cacheEntries());
        assertEquals(2, cache.copiesMade());
    }

    @Test
    void aCopyThatFailsHalfwayLeavesNothingAndTheNextRequestCopiesAfresh() throws Exception {
        Path source = folder("model", "a.bin", "first file", "b.bin", "second file");
        FolderListing listing = listing(source);
        Path second = source.resolve("b.bin");
        FileTime listed = Files.getLastModifiedTime(second);
        ModelFolderCache cache = cache(2);

        // a.bin is copied, then b.bin turns out to differ from what was listed
        Files.writeString(second, "second file, longer now");
        IllegalStateException changed = assertThrows(IllegalStateException.class, () -> cache.acquire(listing, conf));
        assertTrue(changed.getMessage().contains("b.bin changed after the folder was listed"), changed.getMessage());
        assertEquals(Set.of(), cacheEntries(), "no copy and no temporary folder");

        Files.delete(second);
        UncheckedIOException missing = assertThrows(UncheckedIOException.class, () -> cache.acquire(listing, conf));
        assertTrue(missing.getMessage().contains("b.bin"), missing.getMessage());
        assertEquals(Set.of(), cacheEntries());
        assertEquals(0, cache.copiesMade());

        Files.writeString(second, "second file");
        Files.setLastModifiedTime(second, listed);
        try (ModelFolderCache.Lease lease = cache.acquire(listing, conf)) {
            assertEquals("second file", Files.readString(lease.folder().resolve("b.bin"), StandardCharsets.UTF_8));
        }
        assertEquals(1, cache.copiesMade());
    }

    @Test
    void aListingOfSomeNamesCopiesOnlyThoseThatExistAndIsItsOwnEntry() throws Exception {
        Path source = folder("model", "tokenizer.json", "{}", "chat_template.jinja", "{{ x }}",
                "model.safetensors", "weights");
        ModelFolderCache cache = cache(2);
        FolderListing tokenizer = FolderListing.of(conf, source.toString(),
                List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"));
        assertEquals(List.of("chat_template.jinja", "tokenizer.json"),
                tokenizer.files().stream().map(FolderListing.File::name).toList());
        assertNotEquals(listing(source).fingerprint(), tokenizer.fingerprint());
        try (ModelFolderCache.Lease lease = cache.acquire(tokenizer, conf)) {
            try (Stream<Path> files = Files.list(lease.folder())) {
                assertEquals(Set.of("chat_template.jinja", "tokenizer.json"),
                        files.map(p -> p.getFileName().toString()).collect(Collectors.toSet()));
            }
        }
    }

    @Test
    void theJvmCacheUsesALocalFolderInPlace() throws Exception {
        Path source = folder("model", "config.json", "{}");
        try (ModelFolderCache.Lease lease = ModelFolderCache.jvm().acquire(conf, source.toUri().toString())) {
            assertEquals(source, lease.folder());
        }
        assertTrue(Files.isRegularFile(source.resolve("config.json")), "closing the lease leaves the folder alone");
    }

    @Test
    void aMissingFolderOrAFileIsNamedInTheError() throws Exception {
        Path file = Files.writeString(dir.resolve("config.json"), "{}");
        IllegalArgumentException notAFolder = assertThrows(IllegalArgumentException.class,
                () -> FolderListing.of(conf, file.toString()));
        assertTrue(notAFolder.getMessage().contains("config.json is a file, not a folder"), notAFolder.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> FolderListing.of(conf, dir.resolve("nowhere").toString()));
        assertTrue(missing.getMessage().contains("nowhere: no such folder"), missing.getMessage());
        assertFalse(Files.exists(dir.resolve("nowhere")));
    }
}
