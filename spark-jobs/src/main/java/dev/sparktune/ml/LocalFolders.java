package dev.sparktune.ml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removal of the executor-local scratch folders model files are copied into. */
final class LocalFolders {
    private LocalFolders() {
    }

    /** Deletes a folder tree; a scratch copy that cannot be removed is left to the OS's temp cleaning. */
    static void deleteQuietly(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: nothing depends on the copy once the model is loaded
        }
    }
}
