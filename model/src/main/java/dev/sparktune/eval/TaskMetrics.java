package dev.sparktune.eval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metrics of one evaluated task as JSON-ready maps, in the shapes of the tools they follow: scikit-learn's
 * {@code classification_report(output_dict=True)}, sacreBLEU's {@code BLEUScore} / {@code CHRFScore} fields and
 * rouge-score's per-type precision / recall / F. {@code sparktune metrics} prints them; {@code sparktune eval}
 * writes them to {@code eval_results.json}.
 */
public final class TaskMetrics {
    private TaskMetrics() {
    }

    /**
     * Accuracy and macro-F1 (when {@code metrics} name them), scikit-learn's whole report and the confusion matrix of
     * predicted against true class names, labels sorted as scikit-learn sorts them.
     */
    public static Map<String, Object> classification(List<String> references, List<String> predictions,
                                                     List<String> metrics) {
        Classification.Report report = Classification.report(references, predictions);
        Map<String, Object> json = new LinkedHashMap<>();
        if (metrics.contains("accuracy")) {
            json.put("accuracy", Classification.accuracy(references, predictions));
        }
        if (metrics.contains("f1")) {
            json.put("f1", report.macroAvg().f1());
        }
        json.put("classification_report", report.toDict());
        List<String> labels = Classification.labels(references, predictions);
        Map<String, Object> confusion = new LinkedHashMap<>();
        confusion.put("labels", labels);
        confusion.put("matrix", Classification.confusionMatrix(references, predictions, labels));
        json.put("confusion_matrix", confusion);
        return json;
    }

    /** The generation metrics {@code metrics} name (bleu, chrf, rouge, exact_match), one reference per prediction. */
    public static Map<String, Object> generation(List<String> references, List<String> predictions,
                                                 List<String> metrics) {
        List<List<String>> streams = List.of(references);
        Map<String, Object> json = new LinkedHashMap<>();
        if (metrics.contains("bleu")) {
            json.put("bleu", bleu(Bleu.corpus().corpusScore(predictions, streams)));
        }
        if (metrics.contains("chrf")) {
            json.put("chrf", chrf(ChrF.defaults().corpusScore(predictions, streams)));
        }
        if (metrics.contains("rouge")) {
            json.put("rouge", rouge(new Rouge(false).corpusMean(predictions, streams)));
        }
        if (metrics.contains("exact_match")) {
            json.put("exact_match", ExactMatch.score(predictions, streams));
        }
        return json;
    }

    /** The fields of sacreBLEU's {@code BLEUScore}. */
    public static Map<String, Object> bleu(Bleu.Score s) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("name", "BLEU");
        json.put("score", s.score());
        json.put("counts", s.counts());
        json.put("totals", s.totals());
        json.put("precisions", s.precisions());
        json.put("bp", s.bp());
        json.put("sys_len", s.sysLen());
        json.put("ref_len", s.refLen());
        json.put("ratio", s.ratio());
        return json;
    }

    /** The fields of sacreBLEU's {@code CHRFScore}. */
    public static Map<String, Object> chrf(ChrF.Score s) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("name", s.name());
        json.put("score", s.score());
        json.put("char_order", s.charOrder());
        json.put("word_order", s.wordOrder());
        json.put("beta", s.beta());
        return json;
    }

    /** rouge-score's types, each with precision, recall and fmeasure. */
    public static Map<String, Object> rouge(Map<String, Rouge.Score> scores) {
        Map<String, Object> json = new LinkedHashMap<>();
        scores.forEach((type, s) -> {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("precision", s.precision());
            entry.put("recall", s.recall());
            entry.put("fmeasure", s.fmeasure());
            json.put(type, entry);
        });
        return json;
    }
}
