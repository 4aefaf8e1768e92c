package dev.sparktune.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.train.StepMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report reads each input in the format its writer writes, and leaves out the sections of inputs it lacks. */
class RunReportTest {
    private static final Configuration CONF = new Configuration();
    private static final List<String> SECTIONS = List.of("summary", "prep", "training", "evaluation", "baseline",
            "timings");

    @Test
    void readsTheTrainingLog(@TempDir Path dir) throws Exception {
        RunReport report = RunReport.read("job.yaml", SmallRun.write(dir), CONF);

        assertEquals(SmallRun.STEPS / SmallRun.LOG_EVERY, report.training().size());
        StepMetrics last = report.training().get(report.training().size() - 1);
        assertEquals(SmallRun.STEPS, last.step());
        assertEquals(0.0, last.learningRate(), 1e-12);
        List<StepMetrics> validated = report.training().stream().filter(StepMetrics::validated).toList();
        assertEquals(SmallRun.STEPS / SmallRun.VALIDATE_EVERY, validated.size());
        assertEquals(0.97, validated.get(validated.size() - 1).validation().get("validation/spam/accuracy"), 1e-9);
        assertEquals(List.of(), report.notes());
    }

    @Test
    void readsTheEvaluationResults(@TempDir Path dir) throws Exception {
        EvalResults eval = RunReport.read("job.yaml", SmallRun.write(dir), CONF).eval();

        EvalResults.Task spam = eval.tasks().get("spam");
        assertEquals(List.of("spam"), List.copyOf(eval.tasks().keySet()));
        assertEquals(200L, spam.rows());
        assertEquals(195 / 200.0, spam.headline().get("accuracy"), 1e-12);
        assertEquals(List.of("ham", "spam"), spam.confusion().labels());
        assertArrayEquals(new long[] {118, 2}, spam.confusion().matrix()[0]);
        assertArrayEquals(new long[] {3, 77}, spam.confusion().matrix()[1]);
        // counted by hand: 77 spam found of 80, 77 of 79 predicted spam right
        EvalResults.ClassScores scores = spam.perClass().get("spam");
        assertEquals(77 / 79.0, scores.precision(), 1e-12);
        assertEquals(77 / 80.0, scores.recall(), 1e-12);
        assertEquals(80, scores.support());
        assertTrue(spam.perClass().containsKey("macro avg"));
        Map<String, Double> comparable = spam.comparable();
        assertEquals(scores.f1(), comparable.get("spam_f1"), 1e-12);
        assertEquals(scores.recall(), comparable.get("spam_recall"), 1e-12);
        assertFalse(comparable.containsKey("macro avg_f1"));
    }

    @Test
    void readsThePrepReport(@TempDir Path dir) throws Exception {
        RunReport report = RunReport.read("job.yaml", SmallRun.write(dir), CONF);

        assertEquals(1800, report.prep().rows());
        assertEquals(List.of("ingest", "clean", "dedup", "split"),
                report.prep().stages().stream().map(s -> s.stage()).toList());
        assertEquals(160, report.prep().stages().get(2).rejected());
    }

    @Test
    void aWholeRunGetsEverySectionAndItsCharts(@TempDir Path dir) throws Exception {
        RunReport report = RunReport.read("job.yaml", SmallRun.write(dir), CONF).withBaseline(SmallRun.BASELINE)
                .withTimings(SmallRun.TIMINGS);
        Path out = dir.resolve("out");

        ReportPage.Page page = report.write(out.toUri().toString(), CONF);

        String html = Files.readString(out.resolve(RunReport.PAGE));
        assertEquals(page.html(), html);
        assertEquals(SECTIONS, sections(html));
        List<String> images = imageSources(html);
        assertEquals(List.of("report/loss.png", "report/learning_rate.png", "report/validation.png",
                "report/confusion-1.png", "report/comparison.png"), images);
        for (String image : images) {
            byte[] png = Files.readAllBytes(out.resolve(image));
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4), image);
        }
        assertTrue(html.contains("<td>spam_f1</td>"), html);
        assertTrue(html.contains("<td>3 min 05 s</td>"), html);
        assertFalse(html.contains("http:") || html.contains("https:") || html.contains("<script")
                || html.contains("<link"), "the page loads nothing from elsewhere");
    }

    @Test
    void aNewReportRemovesTheChartsOfAnEarlierOneAndNothingElse(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out");
        Files.createDirectories(out.resolve("report"));
        Files.writeString(out.resolve("report/confusion-2.png"), "an earlier report's second task");
        Files.writeString(out.resolve("report/notes.png"), "someone else's");

        ReportPage.Page page = RunReport.read("job.yaml", SmallRun.write(dir), CONF).write(out.toString(), CONF);

        try (var files = Files.list(out.resolve("report"))) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            List<String> expected = new java.util.ArrayList<>(page.images().stream().map(ChartImage::file).toList());
            expected.add("notes.png");
            assertEquals(expected.stream().sorted().toList(), names);
        }
        for (ChartImage image : page.images()) {
            assertTrue(ReportCharts.FILES.matcher(image.file()).matches(), image.file());
        }
    }

    @Test
    void missingInputsLeaveOutTheirSections(@TempDir Path dir) throws Exception {
        RunReport.Inputs none = new RunReport.Inputs(dir.resolve("prepared/_report.json").toUri().toString(),
                dir.resolve("output/metrics.jsonl").toUri().toString(),
                dir.resolve("output/eval/eval_results.json").toUri().toString());

        RunReport empty = RunReport.read("job.yaml", none, CONF);
        assertNull(empty.prep());
        assertNull(empty.eval());
        assertEquals(List.of(), empty.training());
        assertEquals(List.of(), empty.notes());
        String html = ReportPage.render(empty.withBaseline(SmallRun.BASELINE)).html();
        assertEquals(List.of("summary"), sections(html), "a baseline alone has nothing to be compared with");
        assertEquals(List.of(), imageSources(html));

        SmallRun.writeMetrics(dir.resolve("output/metrics.jsonl"));
        RunReport trainingOnly = RunReport.read("job.yaml", none, CONF);
        String trainingHtml = ReportPage.render(trainingOnly).html();
        assertEquals(List.of("summary", "training"), sections(trainingHtml));
        assertEquals(3, imageSources(trainingHtml).size());

        RunReport nothingSet = RunReport.read("job.yaml", new RunReport.Inputs(null, null, null), CONF);
        assertEquals(List.of("summary"), sections(ReportPage.render(nothingSet).html()));
    }

    @Test
    void anUnreadableInputIsNotedAndTheRestShown(@TempDir Path dir) throws Exception {
        RunReport.Inputs inputs = SmallRun.write(dir);
        Files.writeString(dir.resolve("output/eval/eval_results.json"), "{\"tasks\": {\"spam\": [1, 2");

        RunReport report = RunReport.read("job.yaml", inputs, CONF);

        assertNull(report.eval());
        assertNotNull(report.prep());
        assertEquals(1, report.notes().size());
        assertTrue(report.notes().get(0).startsWith("Left out the evaluation results: " + inputs.evalResults()),
                report.notes().get(0));
        assertEquals(List.of("summary", "prep", "training"), sections(ReportPage.render(report).html()));
    }

    @Test
    void stringsFromTheInputsAreEscaped(@TempDir Path dir) throws Exception {
        RunReport report = RunReport.read("<job> & \"co\"", SmallRun.write(dir), CONF)
                .withBaseline(new Baseline("<img src=x onerror=alert(1)>", Map.of("accuracy", 0.5)))
                .withTimings(Map.of("<b>prep</b>", "1 s"));

        String html = ReportPage.render(report).html();

        assertTrue(html.contains("<h1>sparktune run report: &lt;job&gt; &amp; &quot;co&quot;</h1>"), html);
        assertTrue(html.contains("&lt;img src=x onerror=alert(1)&gt;"), html);
        assertTrue(html.contains("<td>&lt;b&gt;prep&lt;/b&gt;</td>"), html);
        assertFalse(html.contains("<b>") || html.contains("onerror=alert(1)>"), html);
    }

    @Test
    void theLearningRateAxisEndsAtARoundNumber() {
        assertEquals(2.5e-4, ReportCharts.roundUp(2.1e-4), 1e-18);
        assertEquals(2e-4, ReportCharts.roundUp(2e-4), 1e-18);
        assertEquals(1.0, ReportCharts.roundUp(0.55 * 1.6), 1e-12);
        assertEquals(5e-5, ReportCharts.roundUp(3.1e-5), 1e-18);
    }

    static List<String> sections(String html) {
        return all(Pattern.compile("<h2 id=\"([^\"]+)\">").matcher(html));
    }

    static List<String> imageSources(String html) {
        return all(Pattern.compile("<img src=\"([^\"]+)\"").matcher(html));
    }

    private static List<String> all(Matcher m) {
        List<String> found = new java.util.ArrayList<>();
        while (m.find()) {
            found.add(m.group(1));
        }
        return found;
    }
}
