package dev.sparktune.bench;

import dev.sparktune.demo.SpamAssassinCorpus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Plain English sentences from the SpamAssassin e-mails, the same each run, taken evenly from every group: the text a
 * translator gets in prep. Only sentences of words and ordinary punctuation are taken (no markup, addresses or
 * encoded lines), so that APY's HTML mode and the command line's text mode translate the same thing.
 */
public final class CorpusSentences {
    private static final Pattern SENTENCE = Pattern.compile("[A-Z][A-Za-z0-9 ,;:'()-]{30,200}[a-z][.!?]");
    private static final int MIN_WORDS = 6;

    private CorpusSentences() {
    }

    /** {@code n} distinct sentences from the corpus's data folder, fewer if it has not that many. */
    public static List<String> pick(Path corpus, int n) {
        List<String> groups = new ArrayList<>(SpamAssassinCorpus.HAM_GROUPS);
        groups.addAll(SpamAssassinCorpus.SPAM_GROUPS);
        Set<String> picked = new LinkedHashSet<>();
        for (int g = 0; g < groups.size(); g++) {
            int quota = n * (g + 1) / groups.size();    // the groups' quotas add up to n
            for (Path file : files(corpus.resolve(groups.get(g)))) {
                if (picked.size() >= quota) {
                    break;
                }
                Matcher m = SENTENCE.matcher(body(file).replaceAll("\\s+", " "));
                while (m.find() && picked.size() < quota) {
                    if (m.group().split(" ").length >= MIN_WORDS) {
                        picked.add(m.group());
                    }
                }
            }
        }
        return List.copyOf(picked);
    }

    private static List<Path> files(Path group) {
        try (Stream<Path> files = Files.list(group)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".txt")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + group + ": " + e, e);
        }
    }

    /** What follows the headers: everything after the first blank line. */
    private static String body(Path file) {
        try {
            String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
            int blank = text.indexOf("\n\n");
            return blank < 0 ? "" : text.substring(blank + 2);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e, e);
        }
    }
}
