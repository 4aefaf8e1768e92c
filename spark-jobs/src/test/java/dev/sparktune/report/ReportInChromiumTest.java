package dev.sparktune.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code report.html} of a small run, opened in a real headless Chromium (Debian's {@code chromium}): every chart
 * loads, there are as many as the report wrote, and the page requests nothing but its own files. The report and a
 * screenshot of the whole page are kept in {@code target/report-in-chromium/} for a person to look at.
 */
@Tag("integration")
class ReportInChromiumTest {
    private static final Path OUT = Path.of("target", "report-in-chromium").toAbsolutePath();

    @Test
    void everyChartLoadsAndNothingLeavesTheMachine(@TempDir Path dir) throws Exception {
        Path chromium = HeadlessChromium.DEBIAN_CHROMIUM;
        if (!Files.isExecutable(chromium)) {
            fail(chromium + " is missing: install Debian's chromium package (apt-get install chromium), as .ci/run"
                    + " does; this test opens report.html in it");
        }
        RunReport report = RunReport.read("spam-demo.yaml", SmallRun.write(dir), new Configuration())
                .withBaseline(SmallRun.BASELINE).withTimings(SmallRun.TIMINGS);
        Path out = OUT;
        ReportPage.Page page = report.write(out.toUri().toString(), new Configuration());
        assertEquals(5, page.images().size(), "loss, learning rate, validation, confusion matrix, comparison");
        URI url = out.resolve(RunReport.PAGE).toUri();

        try (HeadlessChromium browser = HeadlessChromium.start(chromium, dir.resolve("profile"), 1100, 900)) {
            browser.send("Network.enable");
            browser.load(url, Duration.ofSeconds(60));

            JsonObject shown = JsonParser.parseString(browser.evaluate("""
                    JSON.stringify({
                      images: Array.from(document.images).map(i => ({src: i.currentSrc, complete: i.complete,
                                                                    width: i.naturalWidth})),
                      resources: performance.getEntriesByType('resource').map(e => e.name)
                    })""").getAsString()).getAsJsonObject();
            List<String> expected = page.images().stream()
                    .map(i -> out.resolve(RunReport.CHARTS).resolve(i.file()).toUri().toString()).toList();
            List<String> sources = new ArrayList<>();
            for (JsonElement e : shown.getAsJsonArray("images")) {
                JsonObject image = e.getAsJsonObject();
                sources.add(image.get("src").getAsString());
                assertTrue(image.get("complete").getAsBoolean() && image.get("width").getAsInt() > 0,
                        "the image did not load: " + image);
            }
            assertEquals(expected, sources);

            List<String> requested = new ArrayList<>();
            browser.events("Network.requestWillBeSent")
                    .forEach(r -> requested.add(r.getAsJsonObject("request").get("url").getAsString()));
            shown.getAsJsonArray("resources").forEach(r -> requested.add(r.getAsString()));
            assertTrue(requested.contains(url.toString()) && requested.containsAll(expected), requested.toString());
            for (String request : requested) {
                assertTrue(request.startsWith("file:///"), "the page requested " + request + ", not one of its files");
            }

            Files.write(out.resolve("screenshot.png"), screenshot(browser));
        }
    }

    /** The whole page, not just the window, as PNG. */
    private static byte[] screenshot(HeadlessChromium browser) throws Exception {
        JsonObject size = browser.send("Page.getLayoutMetrics").getAsJsonObject("cssContentSize");
        JsonObject clip = new JsonObject();
        clip.addProperty("x", 0);
        clip.addProperty("y", 0);
        clip.addProperty("width", size.get("width").getAsDouble());
        clip.addProperty("height", size.get("height").getAsDouble());
        clip.addProperty("scale", 1);
        JsonObject params = new JsonObject();
        params.addProperty("format", "png");
        params.addProperty("captureBeyondViewport", true);
        params.add("clip", clip);
        byte[] png = Base64.getDecoder().decode(browser.send("Page.captureScreenshot", params).get("data")
                .getAsString());
        assertTrue(png.length > 10_000, "a screenshot of " + png.length + " bytes shows nothing");
        return png;
    }
}
