package dev.sparktune.cli;

import com.google.gson.GsonBuilder;
import dev.sparktune.eval.Bleu;
import dev.sparktune.eval.ChrF;
import dev.sparktune.eval.Classification;
import dev.sparktune.eval.Rouge;
import dev.sparktune.eval.TaskMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code sparktune metrics}: score a file of outputs against reference files, without Spark. */
@Command(name = "metrics", mixinStandardHelpOptions = true,
        description = {"Score predictions against references and print the result as JSON.",
            "Files hold one item per line; several --ref files give several references per line (bleu, chrf, rouge).",
            "  accuracy, f1  scikit-learn's classification_report(output_dict=True); --hyp predicted labels,",
            "                --ref true labels",
            "  bleu          sacreBLEU corpus BLEU (13a tokenizer, exp smoothing, 4-grams), 0-100",
            "  chrf          sacreBLEU chrF2 (character 6-grams, whitespace removed), 0-100",
            "  rouge         rouge-score ROUGE-1/2/L/Lsum, mean over lines of precision, recall and F"})
final class MetricsCommand implements Callable<Integer> {

    enum Metric { accuracy, f1, bleu, chrf, rouge }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "METRIC", description = "one of ${COMPLETION-CANDIDATES}")
    Metric metric;

    @Option(names = "--hyp", required = true, paramLabel = "FILE", description = "system outputs (predictions), one per line")
    Path hyp;

    @Option(names = "--ref", required = true, paramLabel = "FILE",
            description = "references (true labels), one per line; repeat for several references per line")
    List<Path> refs = new ArrayList<>();

    @Option(names = "--stemmer", description = "rouge only: Porter-stem tokens longer than 3 characters (rouge-score's use_stemmer)")
    boolean stemmer;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (stemmer && metric != Metric.rouge) {
            throw new ParameterException(spec.commandLine(), "--stemmer applies to rouge only");
        }
        boolean classification = metric == Metric.accuracy || metric == Metric.f1;
        if (classification && refs.size() != 1) {
            throw new ParameterException(spec.commandLine(), metric + " takes exactly one --ref (the true labels), got " + refs.size());
        }
        List<String> hypotheses;
        List<List<String>> references = new ArrayList<>();
        try {
            hypotheses = read(hyp);
            for (Path ref : refs) {
                List<String> lines = read(ref);
                if (lines.size() != hypotheses.size()) {
                    err.println("line counts differ: " + hyp + " has " + hypotheses.size() + " lines, " + ref + " has "
                            + lines.size() + "; each line of --hyp needs one line in every --ref file");
                    err.flush();
                    return ConfigProblems.INVALID;
                }
                references.add(lines);
            }
        } catch (IOException e) {
            err.println("cannot read " + e.getMessage() + ": check the --hyp and --ref paths");
            err.flush();
            return ConfigProblems.INVALID;
        }
        if (hypotheses.isEmpty()) {
            err.println(hyp + " is empty: nothing to score");
            err.flush();
            return ConfigProblems.INVALID;
        }
        Object result = switch (metric) {
            case accuracy, f1 -> Classification.report(references.get(0), hypotheses).toDict();
            case bleu -> TaskMetrics.bleu(Bleu.corpus().corpusScore(hypotheses, references));
            case chrf -> TaskMetrics.chrf(ChrF.defaults().corpusScore(hypotheses, references));
            case rouge -> TaskMetrics.rouge(new Rouge(stemmer).corpusMean(hypotheses, references));
        };
        PrintWriter out = spec.commandLine().getOut();
        out.println(new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(result));
        out.flush();
        return 0;
    }

    private static List<String> read(Path file) throws IOException {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IOException(file + " (" + e.getClass().getSimpleName() + ")", e);
        }
    }
}
