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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    /** What the browser showed of one page: each image's natural width by URL, and every URL it requested. */
    private record Shown(Map<String, Integer> imageWidths, List<String> requested, byte[] screenshot) {
    }

    @Test
    void everyChartLoadsAndNothingLeavesTheMachine(@TempDir Path dir) throws Exception {
        RunReport report = RunReport.read("spam-demo.yaml", SmallRun.write(dir), new Configuration())
                .withBaseline(SmallRun.BASELINE).withTimings(SmallRun.TIMINGS);
        ReportPage.Page page = report.write(OUT.toUri().toString(), new Configuration());
        assertEquals(5, page.images().size(), "loss, learning rate, validation, confusion matrix, comparison");
        URI url = OUT.resolve(RunReport.PAGE).toUri();

        Shown shown = open(url, dir.resolve("profile"));

        List<String> expected = page.images().stream()
                .map(i -> OUT.resolve(RunReport.CHARTS).resolve(i.file()).toUri().toString()).toList();
        assertEquals(expected, List.copyOf(shown.imageWidths().keySet()), "the page shows each chart once, in order");
        shown.imageWidths().forEach((image, width) -> assertTrue(width > 0, image + " did not load"));
        assertTrue(shown.requested().contains(url.toString()) && shown.requested().containsAll(expected),
                shown.requested().toString());
        for (String request : shown.requested()) {
            assertTrue(request.startsWith("file:///"), "the page requested " + request + ", not one of its files");
        }
        Files.write(OUT.resolve("screenshot.png"), shown.screenshot());
    }

    /** The premise of the test above: a chart that is missing, and a request to another machine, are both seen. */
    @Test
    void aMissingChartAndARequestElsewhereAreSeen(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out");
        RunReport.read("job.yaml", SmallRun.write(dir), new Configuration()).write(out.toString(), new Configuration());
        Files.delete(out.resolve("report/loss.png"));
        Path page = out.resolve(RunReport.PAGE);
        String elsewhere = "http://127.0.0.1:" + closedPort() + "/pixel.png";
        Files.writeString(page, Files.readString(page).replace("</body>",
                "<img src=\"" + elsewhere + "\" alt=\"\">\n</body>"));

        Shown shown = open(page.toUri(), dir.resolve("profile"));

        assertEquals(0, shown.imageWidths().get(out.resolve("report/loss.png").toUri().toString()));
        assertTrue(shown.requested().contains(elsewhere), shown.requested().toString());
    }

    /** A loopback port nothing listens on: a request to it is refused at once, on any machine. */
    private static int closedPort() throws java.io.IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Shown open(URI url, Path profile) throws Exception {
        Path chromium = HeadlessChromium.DEBIAN_CHROMIUM;
        if (!Files.isExecutable(chromium)) {
            fail(chromium + " is missing: install Debian's chromium package (apt-get install chromium), as .ci/run"
                    + " does; this test opens report.html in it");
        }
        try (HeadlessChromium browser = HeadlessChromium.start(chromium, profile, 1100, 900)) {
            browser.send("Network.enable");
            browser.load(url, Duration.ofSeconds(60));
            JsonObject page = JsonParser.parseString(browser.evaluate("""
                    JSON.stringify({
                      images: Array.from(document.images).map(i => ({src: i.src, complete: i.complete,
                                                                    width: i.naturalWidth})),
                      resources: performance.getEntriesByType('resource').map(e => e.name)
                    })""").getAsString()).getAsJsonObject();
            Map<String, Integer> widths = new LinkedHashMap<>();
            for (JsonElement e : page.getAsJsonArray("images")) {
                JsonObject image = e.getAsJsonObject();
                assertTrue(image.get("complete").getAsBoolean(), "still loading after the load event: " + image);
                widths.put(image.get("src").getAsString(), image.get("width").getAsInt());
            }
            List<String> requested = new ArrayList<>();
            browser.events("Network.requestWillBeSent")
                    .forEach(r -> requested.add(r.getAsJsonObject("request").get("url").getAsString()));
            page.getAsJsonArray("resources").forEach(r -> requested.add(r.getAsString()));
            return new Shown(widths, requested, screenshot(browser));
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
