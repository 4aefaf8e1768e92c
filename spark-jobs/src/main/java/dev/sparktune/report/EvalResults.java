package dev.sparktune.report;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the report shows of {@code eval_results.json}, as {@code sparktune eval} writes it
 * ({@link dev.sparktune.evaluation.EvalJob}, {@link dev.sparktune.eval.TaskMetrics}): per task its rows, its headline
 * numbers, scikit-learn's per-class report and the confusion matrix.
 *
 * @param input what was evaluated, as the file says
 * @param tasks each task's results, by task name in file order
 */
public record EvalResults(String input, Map<String, Task> tasks) {

    /** Headline numbers, in the order the report lists them; generation scores by their headline field. */
    private static final List<String> NUMBERS = List.of("accuracy", "f1", "exact_match", "perplexity");

    /**
     * One task.
     *
     * @param rows      rows scored; null when the file does not say
     * @param headline  accuracy, f1, exact_match, perplexity, bleu, chrf, rougeL, those present
     * @param perClass  scikit-learn's report rows: each class, then {@code macro avg}, {@code weighted avg}, ...;
     *                  empty for a task that is not classification
     * @param confusion null for a task that is not classification
     */
    public record Task(Long rows, Map<String, Double> headline, Map<String, ClassScores> perClass,
                       Confusion confusion) {

        /**
         * The numbers a baseline is compared on: the headline numbers, and for each class {@code <class>_precision},
         * {@code <class>_recall} and {@code <class>_f1} (e.g. {@code spam_f1}).
         */
        public Map<String, Double> comparable() {
            Map<String, Double> all = new LinkedHashMap<>(headline);
            perClass.forEach((label, s) -> {
                if (confusion != null && confusion.labels().contains(label)) {
                    all.put(label + "_precision", s.precision());
                    all.put(label + "_recall", s.recall());
                    all.put(label + "_f1", s.f1());
                }
            });
            return all;
        }
    }

    /** One row of scikit-learn's {@code classification_report}. */
    public record ClassScores(double precision, double recall, double f1, long support) {
    }

    /** Entry {@code [i][j]} counts rows labelled {@code labels[i]} and predicted {@code labels[j]}. */
    public record Confusion(List<String> labels, long[][] matrix) {
    }

    public static EvalResults fromJson(String text) {
        JsonObject o = JsonParser.parseString(text).getAsJsonObject();
        Map<String, Task> tasks = new LinkedHashMap<>();
        if (o.get("tasks") instanceof JsonObject all) {
            all.entrySet().forEach(e -> tasks.put(e.getKey(), task(e.getValue().getAsJsonObject())));
        }
        return new EvalResults(o.has("input") && !o.get("input").isJsonNull() ? o.get("input").getAsString() : null,
                tasks);
    }

    private static Task task(JsonObject o) {
        Map<String, Double> headline = new LinkedHashMap<>();
        for (String name : NUMBERS) {
            if (number(o.get(name))) {
                headline.put(name, o.get(name).getAsDouble());
            }
        }
        for (String name : List.of("bleu", "chrf")) {
            if (o.get(name) instanceof JsonObject score && number(score.get("score"))) {
                headline.put(name, score.get("score").getAsDouble());
            }
        }
        if (o.get("rouge") instanceof JsonObject rouge && rouge.get("rougeL") instanceof JsonObject l
                && number(l.get("fmeasure"))) {
            headline.put("rougeL", l.get("fmeasure").getAsDouble());
        }

        Map<String, ClassScores> perClass = new LinkedHashMap<>();
        if (o.get("classification_report") instanceof JsonObject report) {
            report.entrySet().forEach(e -> {
                if (e.getValue() instanceof JsonObject s) {
                    perClass.put(e.getKey(), new ClassScores(s.get("precision").getAsDouble(),
                            s.get("recall").getAsDouble(), s.get("f1-score").getAsDouble(),
                            s.get("support").getAsLong()));
                }
            });
        }

        Confusion confusion = null;
        if (o.get("confusion_matrix") instanceof JsonObject c) {
            List<String> labels = new ArrayList<>();
            c.getAsJsonArray("labels").forEach(l -> labels.add(l.getAsString()));
            long[][] matrix = new long[labels.size()][];
            for (int i = 0; i < matrix.length; i++) {
                var row = c.getAsJsonArray("matrix").get(i).getAsJsonArray();
                matrix[i] = new long[row.size()];
                for (int j = 0; j < matrix[i].length; j++) {
                    matrix[i][j] = row.get(j).getAsLong();
                }
            }
            confusion = new Confusion(List.copyOf(labels), matrix);
        }
        Long rows = number(o.get("rows")) ? o.get("rows").getAsLong() : null;
        return new Task(rows, headline, perClass, confusion);
    }

    /** A finite number; {@code NaN} is written as a bare {@code NaN} and dropped here. */
    private static boolean number(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
                && Double.isFinite(e.getAsDouble());
    }
}
