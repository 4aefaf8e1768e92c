package dev.sparktune.report;

import dev.sparktune.prep.StageCounts;
import dev.sparktune.train.StepMetrics;
import dev.sparktune.train.Validation;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The HTML of a {@link RunReport}: one plain page with the sections Summary, Prep, Training, Evaluation, Baseline
 * comparison and Timings, those with an input; CSS inline, charts as {@code <img>} of PNGs in {@code report/}.
 * Every string from the inputs is escaped.
 */
public final class ReportPage {
    private static final String STYLE = """
            body { font-family: sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; }
            h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
            table { border-collapse: collapse; margin: .8em 0; }
            th, td { border: 1px solid #ccc; padding: .25em .7em; }
            th { background: #f2f2f2; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
            img { display: block; max-width: 100%; margin: 1em 0; border: 1px solid #eee; }
            .note { color: #8a4b00; }
            """;

    /** The page, and the charts it shows, in the order it shows them. */
    public record Page(String html, List<ChartImage> images) {
    }

    private final RunReport report;
    private final StringBuilder html = new StringBuilder();
    private final List<ChartImage> images = new ArrayList<>();

    private ReportPage(RunReport report) {
        this.report = report;
    }

    public static Page render(RunReport report) {
        return new ReportPage(report).render();
    }

    private Page render() {
        String title = "sparktune run report" + (report.title() == null ? "" : ": " + report.title());
        html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
                .append(escape(title)).append("</title>\n<style>\n").append(STYLE).append("</style>\n</head>\n<body>\n")
                .append("<h1>").append(escape(title)).append("</h1>\n");
        summary();
        if (report.prep() != null) {
            prep();
        }
        if (!report.training().isEmpty()) {
            training();
        }
        if (report.eval() != null && !report.eval().tasks().isEmpty()) {
            evaluation();
        }
        Comparison comparison = comparison();
        if (comparison != null) {
            baseline(comparison);
        }
        if (!report.timings().isEmpty()) {
            timings();
        }
        html.append("</body>\n</html>\n");
        return new Page(html.toString(), List.copyOf(images));
    }

    private void summary() {
        html.append("<h2 id=\"summary\">Summary</h2>\n<ul>\n");
        if (report.prep() != null) {
            item("Prep: %s rows written, %s rejected%s", report.prep().rows(), report.prep().rejected(),
                    report.prep().datasets() == null ? "" : ", datasets " + String.join(", ", report.prep().datasets()));
        }
        if (!report.training().isEmpty()) {
            StepMetrics last = report.training().get(report.training().size() - 1);
            StepMetrics validated = lastValidated();
            item("Training: %d logged steps up to step %d, last training loss %s%s, %s", report.training().size(),
                    last.step(), number(last.loss()),
                    validated == null ? "" : ", last validation loss " + number(
                            validated.validation().getOrDefault(Validation.LOSS, Double.NaN)),
                    seconds(last.elapsedSeconds()));
        }
        if (report.eval() != null) {
            report.eval().tasks().forEach((task, t) -> item("Evaluation of %s: %s", task, headline(t)));
        }
        Comparison comparison = comparison();
        if (comparison != null) {
            List<String> pairs = new ArrayList<>();
            for (String name : comparison.names()) {
                pairs.add(name + " " + number(comparison.fineTuned().get(name)) + " vs "
                        + number(report.baseline().metrics().get(name)));
            }
            item("Fine-tuned (%s) vs %s: %s", comparison.task(), report.baseline().name(), String.join(", ", pairs));
        }
        if (report.prep() == null && report.training().isEmpty() && report.eval() == null) {
            item("No prep report, training log or evaluation results were found.");
        }
        html.append("</ul>\n");
        for (String note : report.notes()) {
            html.append("<p class=\"note\">").append(escape(note)).append("</p>\n");
        }
    }

    private void prep() {
        html.append("<h2 id=\"prep\">Prep</h2>\n");
        if (report.prep().partition() != null) {
            paragraph("Partition " + report.prep().partition() + ".");
        }
        List<List<String>> rows = new ArrayList<>();
        for (StageCounts s : report.prep().stages()) {
            rows.add(List.of(s.stage(), count(s.in()), count(s.out()), count(s.rejected())));
        }
        rows.add(List.of("written", "", count(report.prep().rows()), count(report.prep().rejected())));
        table(List.of("stage", "in", "out", "rejected"), rows);
        if (report.prep().tokenizedRows() != null) {
            List<List<String>> tokenized = new ArrayList<>();
            report.prep().tokenizedRows().forEach((split, n) -> tokenized.add(List.of(split, count(n))));
            table(List.of("split", "tokenized rows"), tokenized);
        }
    }

    private void training() {
        List<StepMetrics> steps = report.training();
        html.append("<h2 id=\"training\">Training</h2>\n");
        chart(ReportCharts.loss(steps));
        chart(ReportCharts.learningRate(steps));
        List<StepMetrics> validated = steps.stream().filter(StepMetrics::validated).toList();
        List<String> metrics = validationMetrics(validated);
        if (!metrics.isEmpty()) {
            chart(ReportCharts.validation(validated, metrics));
            List<String> all = validated.stream().flatMap(s -> s.validation().keySet().stream()).distinct().sorted()
                    .toList();
            List<String> header = new ArrayList<>(List.of("step"));
            header.addAll(all);
            List<List<String>> rows = new ArrayList<>();
            for (StepMetrics s : validated) {
                List<String> row = new ArrayList<>(List.of(Long.toString(s.step())));
                all.forEach(m -> row.add(number(s.validation().getOrDefault(m, Double.NaN))));
                rows.add(row);
            }
            table(header, rows);
        }
        StepMetrics last = steps.get(steps.size() - 1);
        table(List.of("last step", "loss", "learning rate", "grad norm", "tokens/s", "elapsed"),
                List.of(List.of(Long.toString(last.step()), number(last.loss()), String.format(Locale.ROOT, "%.3g",
                        last.learningRate()), number(last.gradNorm()), String.format(Locale.ROOT, "%.1f",
                        last.tokensPerSecond()), seconds(last.elapsedSeconds()))));
    }

    /**
     * The validation metrics the validation chart draws: each task's quality metrics (accuracy, f1, bleu, ...) when
     * there are any, since losses are already on the loss chart; else each task's loss.
     */
    private static List<String> validationMetrics(List<StepMetrics> validated) {
        List<String> all = validated.stream().flatMap(s -> s.validation().keySet().stream())
                .filter(m -> m.startsWith(Validation.LOSS + "/")).distinct().sorted().toList();
        List<String> quality = all.stream().filter(m -> !m.endsWith("/loss") && !m.endsWith("/perplexity")).toList();
        return quality.isEmpty() ? all.stream().filter(m -> m.endsWith("/loss")).toList() : quality;
    }

    private void evaluation() {
        html.append("<h2 id=\"evaluation\">Evaluation</h2>\n");
        if (report.eval().input() != null) {
            paragraph("Evaluated on " + report.eval().input() + ".");
        }
        int n = 0;
        for (Map.Entry<String, EvalResults.Task> entry : report.eval().tasks().entrySet()) {
            String task = entry.getKey();
            EvalResults.Task t = entry.getValue();
            n++;
            html.append("<h3>").append(escape(task)).append("</h3>\n");
            List<List<String>> rows = new ArrayList<>();
            if (t.rows() != null) {
                rows.add(List.of("rows", count(t.rows())));
            }
            t.headline().forEach((name, value) -> rows.add(List.of(name, number(value))));
            table(List.of("metric", "value"), rows);
            if (!t.perClass().isEmpty()) {
                List<List<String>> classes = new ArrayList<>();
                t.perClass().forEach((label, s) -> classes.add(List.of(label, number(s.precision()),
                        number(s.recall()), number(s.f1()), count(s.support()))));
                table(List.of("class", "precision", "recall", "f1-score", "support"), classes);
            }
            if (t.confusion() != null && !t.confusion().labels().isEmpty()) {
                chart(ReportCharts.confusion("confusion-" + n + ".png", task, t.confusion()));
            }
        }
    }

    /** The evaluated task a baseline is compared with, its numbers, and the metrics both have. */
    private record Comparison(String task, Map<String, Double> fineTuned, List<String> names) {
    }

    /** The first evaluated task that shares a metric with the baseline; null without a baseline or such a task. */
    private Comparison comparison() {
        if (report.baseline() == null || report.eval() == null) {
            return null;
        }
        for (Map.Entry<String, EvalResults.Task> task : report.eval().tasks().entrySet()) {
            Map<String, Double> fineTuned = task.getValue().comparable();
            List<String> names = report.baseline().metrics().keySet().stream().filter(fineTuned::containsKey).toList();
            if (!names.isEmpty()) {
                return new Comparison(task.getKey(), fineTuned, names);
            }
        }
        return null;
    }

    private void baseline(Comparison comparison) {
        Baseline baseline = report.baseline();
        html.append("<h2 id=\"baseline\">Baseline comparison</h2>\n");
        paragraph("The fine-tuned model (task " + comparison.task() + ") and " + baseline.name()
                + " on the same test rows.");
        List<List<String>> rows = new ArrayList<>();
        baseline.metrics().forEach((name, value) -> {
            Double mine = comparison.fineTuned().get(name);
            rows.add(List.of(name, mine == null ? "n/a" : number(mine), number(value),
                    mine == null ? "" : String.format(Locale.ROOT, "%+.4f", mine - value)));
        });
        table(List.of("metric", "fine-tuned", baseline.name(), "difference"), rows);
        chart(ReportCharts.comparison("fine-tuned (" + comparison.task() + ")", comparison.fineTuned(), baseline,
                comparison.names()));
    }

    private void timings() {
        html.append("<h2 id=\"timings\">Timings</h2>\n");
        List<List<String>> rows = new ArrayList<>();
        report.timings().forEach((step, time) -> rows.add(List.of(step, time)));
        table(List.of("step", "wall time"), rows);
    }

    private StepMetrics lastValidated() {
        List<StepMetrics> validated = report.training().stream().filter(StepMetrics::validated).toList();
        return validated.isEmpty() ? null : validated.get(validated.size() - 1);
    }

    private static String headline(EvalResults.Task t) {
        List<String> parts = new ArrayList<>();
        if (t.rows() != null) {
            parts.add(t.rows() + " rows");
        }
        t.headline().forEach((name, value) -> parts.add(name + " " + number(value)));
        return String.join(", ", parts);
    }

    private void chart(ChartImage image) {
        if (image == null) {
            return;
        }
        images.add(image);
        html.append("<img src=\"").append(escape(RunReport.CHARTS + "/" + image.file())).append("\" alt=\"")
                .append(escape(image.alt())).append("\">\n");
    }

    private void item(String format, Object... args) {
        html.append("<li>").append(escape(String.format(Locale.ROOT, format, args))).append("</li>\n");
    }

    private void paragraph(String text) {
        html.append("<p>").append(escape(text)).append("</p>\n");
    }

    /** A table; cells that read as numbers are right-aligned. */
    private void table(List<String> header, List<List<String>> rows) {
        html.append("<table>\n<tr>");
        header.forEach(h -> html.append("<th>").append(escape(h)).append("</th>"));
        html.append("</tr>\n");
        for (List<String> row : rows) {
            html.append("<tr>");
            for (String cell : row) {
                html.append(cell.matches("[-+]?[0-9][0-9,.]*( s)?|n/a") ? "<td class=\"n\">" : "<td>")
                        .append(escape(cell)).append("</td>");
            }
            html.append("</tr>\n");
        }
        html.append("</table>\n");
    }

    private static String number(Double value) {
        return value == null || !Double.isFinite(value) ? "n/a" : String.format(Locale.ROOT, "%.4f", value);
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    private static String seconds(double s) {
        return Double.isFinite(s) ? String.format(Locale.ROOT, "%.1f s", s) : "n/a";
    }

    /** Text as HTML: the five characters HTML gives meaning to, in text and in attribute values. */
    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
