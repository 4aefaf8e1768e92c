package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sparktune metrics} in-process, against the published outputs of sacreBLEU, rouge-score and sklearn. */
class MetricsCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @TempDir
    Path dir;

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private String file(String name, String... lines) throws Exception {
        Path path = dir.resolve(name);
        Files.write(path, List.of(lines));
        return path.toString();
    }

    private JsonObject json() {
        return JsonParser.parseString(out.toString()).getAsJsonObject();
    }

    private static String f(String format, double value) {
        return String.format(Locale.ROOT, format, value);
    }

    // github.com/mjpost/sacrebleu README, "Using SacreBLEU from Python": sys and the two reference sets
    private String[] bleuArgs(String metric) throws Exception {
        String hyp = file("sys.txt", "The dog bit the man.", "It wasn't surprising.", "The man had just bitten him.");
        String ref1 = file("ref1.txt", "The dog bit the man.", "It was not unexpected.", "The man bit him first.");
        String ref2 = file("ref2.txt", "The dog had bit the man.", "No one was surprised.", "The man had bitten the dog.");
        return new String[] {"metrics", metric, "--hyp", hyp, "--ref", ref1, "--ref", ref2};
    }

    @Test
    void bleuWithTwoReferencesIsSacreBleusReadmeExample() throws Exception {
        assertEquals(0, sparktune(bleuArgs("bleu")), err.toString());

        JsonObject bleu = json();
        // README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18);
        // test/test_bleu.py test_corpus_bleu: 48.530827 within 1e-8
        assertEquals(48.530827, bleu.get("score").getAsDouble(), 1e-8);
        JsonArray p = bleu.getAsJsonArray("precisions");
        assertEquals("82.4/50.0/45.5/37.5", f("%.1f", p.get(0).getAsDouble()) + "/" + f("%.1f", p.get(1).getAsDouble()) + "/"
                + f("%.1f", p.get(2).getAsDouble()) + "/" + f("%.1f", p.get(3).getAsDouble()));
        assertEquals("0.943", f("%.3f", bleu.get("bp").getAsDouble()));
        assertEquals("0.944", f("%.3f", bleu.get("ratio").getAsDouble()));
        assertEquals(17, bleu.get("sys_len").getAsInt());
        assertEquals(18, bleu.get("ref_len").getAsInt());
    }

    @Test
    void chrfIsSacreBleusReadmeExample() throws Exception {
        assertEquals(0, sparktune(bleuArgs("chrf")), err.toString());
        // README: CHRF().corpus_score(sys, refs) -> chrF2 = 59.73
        assertEquals("chrF2 = 59.73", json().get("name").getAsString() + " = " + f("%.2f", json().get("score").getAsDouble()));
    }

    // github.com/google-research/google-research rouge/testdata/target.txt and prediction.txt, second lines
    private static final String TARGET = "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing"
            + " sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing"
            + " c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN";
    private static final String PREDICTION = "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed"
            + " HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD";

    private void assertRouge(JsonObject rouge, String type, double recall, double precision, double fmeasure) {
        JsonObject s = rouge.getAsJsonObject(type);
        assertEquals(recall, s.get("recall").getAsDouble(), 5e-6, type + " recall");
        assertEquals(precision, s.get("precision").getAsDouble(), 5e-6, type + " precision");
        assertEquals(fmeasure, s.get("fmeasure").getAsDouble(), 5e-6, type + " fmeasure");
    }

    @Test
    void rougeWithAndWithoutStemmingIsRougeScoresRouge155Values() throws Exception {
        String hyp = file("pred.txt", PREDICTION);
        String ref = file("target.txt", TARGET);

        assertEquals(0, sparktune("metrics", "rouge", "--hyp", hyp, "--ref", ref), err.toString());
        // rouge/rouge_scorer_test.py testRouge1AgainstRouge155, testRouge2AgainstRouge155, testRougeLAgainstRouge155
        assertRouge(json(), "rouge1", 0.40476, 0.65385, 0.50000);
        assertRouge(json(), "rouge2", 0.29268, 0.48000, 0.36364);
        assertRouge(json(), "rougeL", 0.40476, 0.65385, 0.50000);

        out.getBuffer().setLength(0);
        assertEquals(0, sparktune("metrics", "rouge", "--hyp", hyp, "--ref", ref, "--stemmer"), err.toString());
        // rouge/rouge_scorer_test.py testRouge1AgainstRouge155WithStemming, testRouge2AgainstRouge155WithStemming
        assertRouge(json(), "rouge1", 0.42857, 0.69231, 0.52941);
        assertRouge(json(), "rouge2", 0.29268, 0.48000, 0.36364);
    }

    @Test
    void f1PrintsSklearnsClassificationReport() throws Exception {
        // sklearn/metrics/_classification.py, classification_report docstring: y_true = [0, 1, 2, 2, 2],
        // y_pred = [0, 0, 2, 2, 1]
        String pred = file("pred.txt", "0", "0", "2", "2", "1");
        String truth = file("truth.txt", "0", "1", "2", "2", "2");

        assertEquals(0, sparktune("metrics", "f1", "--hyp", pred, "--ref", truth), err.toString());

        JsonObject report = json();
        assertEquals(List.of("0", "1", "2", "accuracy", "macro avg", "weighted avg"), List.copyOf(report.keySet()));
        String[][] rows = { // label, precision, recall, f1-score, support as the docstring prints them
            {"0", "0.50", "1.00", "0.67", "1"}, {"1", "0.00", "0.00", "0.00", "1"}, {"2", "1.00", "0.67", "0.80", "3"},
            {"macro avg", "0.50", "0.56", "0.49", "5"}, {"weighted avg", "0.70", "0.60", "0.61", "5"}};
        for (String[] row : rows) {
            JsonObject entry = report.getAsJsonObject(row[0]);
            assertEquals(List.of(row[1], row[2], row[3], row[4]), List.of(f("%.2f", entry.get("precision").getAsDouble()),
                    f("%.2f", entry.get("recall").getAsDouble()), f("%.2f", entry.get("f1-score").getAsDouble()),
                    entry.get("support").getAsString()), row[0]);
        }
        assertEquals("0.60", f("%.2f", report.get("accuracy").getAsDouble()));
    }

    @Test
    void lineCountMismatchExitsTwoNamingBothFiles() throws Exception {
        String hyp = file("hyp.txt", "a", "b", "c");
        String ref = file("ref.txt", "a", "b");

        assertEquals(2, sparktune("metrics", "bleu", "--hyp", hyp, "--ref", ref));

        assertTrue(err.toString().contains(hyp + " has 3 lines, " + ref + " has 2"), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void stemmerOutsideRougeIsAUsageError() throws Exception {
        String hyp = file("hyp.txt", "a");
        assertEquals(2, sparktune("metrics", "bleu", "--hyp", hyp, "--ref", hyp, "--stemmer"));
        assertTrue(err.toString().contains("--stemmer applies to rouge only"), err.toString());
    }
}
