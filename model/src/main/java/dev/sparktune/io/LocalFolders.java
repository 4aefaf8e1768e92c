package dev.sparktune.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removal of local scratch folders: model copies on executors, exports staged before an upload. */
public final class LocalFolders {
    private LocalFolders() {
    }

    /** Deletes a folder tree; a scratch copy that cannot be removed is left to the OS's temp cleaning. */
    public static void deleteQuietly(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: nothing depends on a scratch folder once it is to be removed
        }
    }
}
