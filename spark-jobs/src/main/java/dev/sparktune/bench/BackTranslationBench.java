package dev.sparktune.bench;

import dev.sparktune.augment.ApertiumApy;
import dev.sparktune.augment.ApertiumTranslator;
import dev.sparktune.augment.BackTranslationOptions;
import dev.sparktune.augment.BackTranslator;
import dev.sparktune.augment.RetryingHttp;
import dev.sparktune.augment.TranslationOutcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * Back-translation (English to Spanish and back) of the same sentences two ways: through APY with the code prep uses
 * ({@link BackTranslator} over {@link ApertiumTranslator}: batches of texts in one HTML document, several in flight,
 * no cache), and through the {@code apertium} command line, one process per direction over all the sentences, one a
 * line. Rates are sentences per second of the whole round trip. Beside each rate, how many of the machine's cores
 * were busy meanwhile (APY's server and pipelines, or the command line's processes, and this JVM), so that a slower
 * rate reads as either more work per sentence or less of the machine kept busy.
 */
public final class BackTranslationBench {
    private static final String SOURCE = "eng";
    private static final String PIVOT = "spa";

    /** Sentences/s of each repetition, through APY and through the command line, and the cores busy meanwhile. */
    public record Result(int sentences, Samples apy, Samples commandLine, Samples apyCoresBusy,
                         Samples commandLineCoresBusy) {
    }

    private BackTranslationBench() {
    }

    /** Why this machine cannot run the benchmark, or null when it can. */
    public static String missing() {
        for (String command : List.of("apertium", "apertium-apy")) {
            if (!onPath(command)) {
                return "the command " + command + " is not installed (Debian packages apertium-apy, apertium-eng-spa)";
            }
        }
        for (String pair : List.of(SOURCE + "-" + PIVOT, PIVOT + "-" + SOURCE)) {
            if (!Files.isRegularFile(ApertiumApy.PAIRS.resolve("modes").resolve(pair + ".mode"))) {
                return "the Apertium pair " + pair + " is not installed (Debian package apertium-eng-spa)";
            }
        }
        return null;
    }

    /**
     * @param translator an APY server's URL, or null to start one for the run (its log goes into {@code scratch})
     */
    public static Result run(List<String> sentences, URI translator, Path scratch, int repeats)
            throws IOException, InterruptedException {
        List<Double> apy = new ArrayList<>();
        List<Double> commandLine = new ArrayList<>();
        List<Double> apyBusy = new ArrayList<>();
        List<Double> commandLineBusy = new ArrayList<>();
        try (ApertiumApy started = translator == null ? ApertiumApy.start(scratch.resolve("apertium-apy.log")) : null) {
            BackTranslator viaApy = backTranslator(translator != null ? translator : started.url());
            viaApy.roundTrip(sentences.subList(0, 1), null, new HashMap<>());   // APY starts a pair's pipeline on first use
            for (int r = 0; r < repeats; r++) {
                double busy = Machine.busyCpuSeconds();
                long start = System.nanoTime();
                List<TranslationOutcome> outcomes = viaApy.roundTrip(sentences, null, new HashMap<>());
                double seconds = (System.nanoTime() - start) / 1e9;
                apyBusy.add((Machine.busyCpuSeconds() - busy) / seconds);
                for (TranslationOutcome o : outcomes) {
                    if (!o.succeeded()) {
                        throw new IllegalStateException("APY failed to back-translate: " + o.failure());
                    }
                }
                apy.add(sentences.size() / seconds);

                busy = Machine.busyCpuSeconds();
                start = System.nanoTime();
                List<String> back = apertium(PIVOT + "-" + SOURCE, apertium(SOURCE + "-" + PIVOT, sentences));
                seconds = (System.nanoTime() - start) / 1e9;
                commandLine.add(back.size() / seconds);
                commandLineBusy.add((Machine.busyCpuSeconds() - busy) / seconds);
            }
        }
        return new Result(sentences.size(), Samples.of(apy), Samples.of(commandLine), Samples.of(apyBusy),
                Samples.of(commandLineBusy));
    }

    private static BackTranslator backTranslator(URI url) {
        BackTranslationOptions options = BackTranslationOptions.apertium(url, null);
        RetryingHttp http = new RetryingHttp(options.maxRetries(), options.initialBackoff(), options.timeout());
        return new BackTranslator(new ApertiumTranslator(url, http), options);
    }

    /** {@code apertium -u PAIR} over the texts, one a line; {@code -u}: unknown words unmarked, as prep asks APY. */
    private static List<String> apertium(String pair, List<String> texts) throws IOException, InterruptedException {
        Process process = new ProcessBuilder("apertium", "-u", pair).redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        Thread writer = new Thread(() -> {
            try (var in = process.getOutputStream()) {
                in.write((String.join("\n", texts) + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "apertium-stdin");
        writer.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        writer.join();
        int code = process.waitFor();
        List<String> lines = output.lines().toList();
        if (code != 0 || lines.size() != texts.size()) {
            throw new IllegalStateException("apertium " + pair + " exited with " + code + " and gave " + lines.size()
                    + " lines for " + texts.size());
        }
        return lines;
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }
}
