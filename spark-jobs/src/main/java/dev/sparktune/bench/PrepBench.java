package dev.sparktune.bench;

import dev.sparktune.config.DataConfig;
import dev.sparktune.demo.DemoJob;
import dev.sparktune.demo.SpamAssassinCorpus;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * {@code sparktune bench prep}: the demo's prep job (conf/examples/spam-assassin-demo.yaml) on the SpamAssassin corpus,
 * rows/s per stage on 1 core and on all cores ({@link PrepStageBench}), then back-translation sentences/s through
 * APY against the {@code apertium} command line ({@link BackTranslationBench}); prints both tables.
 */
public final class PrepBench {
    /**
     * --quick: e-mails taken from each of the corpus's five groups, and sentences translated; the stages run once per
     * session, since on a few rows their time is Spark's fixed cost per job, not a rate.
     */
    private static final int QUICK_EMAILS_PER_GROUP = 20;
    private static final int QUICK_SENTENCES = 20;
    private static final int SENTENCES = 200;

    /**
     * @param corpus     the corpus's data folder ({@link SpamAssassinCorpus#dataFolder})
     * @param model      all-MiniLM-L6-v2's folder, whose tokenizer the tokenize stage uses
     * @param translator an APY server's URL, or null to start one
     * @param shufflePartitionsPerCore the shuffle partitions per core of a local session sparktune starts itself
     */
    public record Options(Path corpus, Path model, URI translator, int shufflePartitionsPerCore, boolean quick,
                          int repeats) {
    }

    private PrepBench() {
    }

    public static void run(Options options, PrintWriter out) throws IOException, InterruptedException {
        Path scratch = Files.createTempDirectory("sparktune-bench-prep");
        try {
            Path corpus = options.quick() ? subset(options.corpus(), scratch.resolve("corpus")) : options.corpus();
            stages(options, corpus, scratch, out);
            backTranslation(options, corpus, scratch, out);
        } finally {
            delete(scratch);
        }
    }

    private static void stages(Options options, Path corpus, Path scratch, PrintWriter out) {
        DemoJob.Layout layout = new DemoJob.Layout(scratch.resolve("job"));
        DataConfig data = DemoJob.write(layout, corpus, options.model(), null, List.of()).job().data();
        int cores = Runtime.getRuntime().availableProcessors();
        int runs = options.quick() ? 1 : options.repeats();
        out.printf(Locale.ROOT, "Prep: the demo's job on %s, rows/s per stage, median (min-max) of %d run(s) on a"
                + " local Spark session of 1 core and of %d. The job does not time its stages, so each is timed in"
                + " isolation: its input persisted and counted first, the clock stopped once its kept and rejected"
                + " rows are persisted and counted (tokenize: once its Parquet is written, at cutoff_len %d); augment"
                + " makes synonym copies of %.0f%% of the training rows.%s%n%n",
                options.quick() ? "the first " + QUICK_EMAILS_PER_GROUP + " e-mails of each group" : corpus, runs,
                cores, data.cutoffLen(), 100 * data.prep().synonymRatio(),
                options.quick() ? " --quick: a few rows measure Spark's cost per job, not a rate." : "");
        out.flush();
        List<PrepStageBench.StageRate> one = PrepStageBench.run(data, options.model(), scratch, 1,
                options.shufflePartitionsPerCore(), runs);
        List<PrepStageBench.StageRate> all = cores > 1
                ? PrepStageBench.run(data, options.model(), scratch, cores,
                options.shufflePartitionsPerCore(), runs) : one;
        out.printf(Locale.ROOT, "| prep stage | rows in | rows/s, 1 core | rows/s, %d cores | per core at %d cores |%n",
                cores, cores);
        out.println("|---|---|---|---|---|");
        for (int i = 0; i < one.size(); i++) {
            PrepStageBench.StageRate r1 = one.get(i);
            PrepStageBench.StageRate rn = all.get(i);
            out.printf(Locale.ROOT, "| %s | %,d | %s | %s | %s |%n", r1.stage(), r1.rowsIn(),
                    r1.rowsPerSecond().format("%,.0f"), rn.rowsPerSecond().format("%,.0f"),
                    rn.rowsPerSecond().map(r -> r / cores).format("%,.0f"));
        }
        out.println();
        out.flush();
    }

    private static void backTranslation(Options options, Path corpus, Path scratch, PrintWriter out)
            throws IOException, InterruptedException {
        String missing = BackTranslationBench.missing();
        if (missing != null) {
            out.println("Back-translation: skipped, " + missing + ".");
            out.println();
            out.flush();
            return;
        }
        List<String> sentences = CorpusSentences.pick(corpus, options.quick() ? QUICK_SENTENCES : SENTENCES);
        BackTranslationBench.Result r = BackTranslationBench.run(sentences, options.translator(), scratch,
                options.repeats());
        out.printf(Locale.ROOT, "| back-translation eng -> spa -> eng, %d sentences from the corpus | sentences/s "
                + "| cores busy meanwhile (whole machine) | CPU ms per sentence |%n", r.sentences());
        out.println("|---|---|---|---|");
        out.printf(Locale.ROOT, "| APY%s, as prep sends it (batches of texts, several in flight) | %s | %s | %.1f |%n",
                options.translator() == null ? "" : " at " + options.translator(), r.apy().format("%,.1f"),
                r.apyCoresBusy().format("%.2f"), 1e3 * r.apyCoresBusy().median() / r.apy().median());
        out.printf(Locale.ROOT, "| apertium command line, one process per direction | %s | %s | %.1f |%n",
                r.commandLine().format("%,.1f"), r.commandLineCoresBusy().format("%.2f"),
                1e3 * r.commandLineCoresBusy().median() / r.commandLine().median());
        out.println();
        out.printf(Locale.ROOT, "APY / command line: %.2f%n%n", r.apy().median() / r.commandLine().median());
        out.flush();
    }

    /** The first e-mails of each group, copied into {@code target}: a corpus folder of its own. */
    private static Path subset(Path corpus, Path target) throws IOException {
        List<String> groups = new ArrayList<>(SpamAssassinCorpus.HAM_GROUPS);
        groups.addAll(SpamAssassinCorpus.SPAM_GROUPS);
        for (String group : groups) {
            Path to = Files.createDirectories(target.resolve(group));
            try (Stream<Path> files = Files.list(corpus.resolve(group))) {
                for (Path file : files.filter(p -> p.getFileName().toString().endsWith(".txt")).sorted()
                        .limit(QUICK_EMAILS_PER_GROUP).toList()) {
                    Files.copy(file, to.resolve(file.getFileName()));
                }
            }
        }
        return target;
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
