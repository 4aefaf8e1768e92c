package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.report.SmallRun;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sparktune report job.yaml} finds a run's files through the job's paths, without Spark. */
class ReportCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int sparktune(String... args) {
        return Sparktune.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private static Path job(Path dir) throws Exception {
        Path job = dir.resolve("job.yaml");
        Files.writeString(job, "data:\n  prepared_path: " + dir.resolve("prepared") + "\ntrain:\n  output_dir: "
                + dir.resolve("output") + "\n");
        return job;
    }

    @Test
    void writesTheReportOfARunIntoItsOutputDir(@TempDir Path dir) throws Exception {
        SmallRun.write(dir);
        new StepMarkers(dir.resolve("output").toString(), new Configuration())
                .recordFinish(RunStep.TRAIN, "f".repeat(64), Duration.ofSeconds(185));

        int code = sparktune("report", job(dir).toString());

        assertEquals(0, code, err.toString());
        assertEquals("Report: " + dir.resolve("output") + "/report.html (4 charts)\n", out.toString());
        String html = Files.readString(dir.resolve("output/report.html"));
        assertTrue(html.contains("<h2 id=\"prep\">") && html.contains("<h2 id=\"training\">")
                && html.contains("<h2 id=\"evaluation\">"), html);
        assertTrue(html.contains("<tr><td>train</td><td>3 min 05 s</td></tr>"), "the time run recorded:\n" + html);
        assertTrue(Files.size(dir.resolve("output/report/confusion-1.png")) > 0);
    }

    @Test
    void outPutsItElsewhereAndMissingFilesLeaveOutTheirSections(@TempDir Path dir) throws Exception {
        Path elsewhere = dir.resolve("site");

        int code = sparktune("report", job(dir).toString(), "--out", elsewhere.toString());

        assertEquals(0, code, err.toString());
        assertEquals("Report: " + elsewhere + "/report.html (0 charts)\n", out.toString());
        String html = Files.readString(elsewhere.resolve("report.html"));
        assertTrue(html.contains("<h2 id=\"summary\">"), html);
        assertFalse(html.contains("<h2 id=\"training\">") || html.contains("<img"), html);
        assertFalse(Files.exists(dir.resolve("output/report.html")));
    }

    @Test
    void anUnknownKeyIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        int code = sparktune("report", job(dir).toString(), "--set", "train.ouput_dir=x");

        assertEquals(2, code);
        assertTrue(err.toString().contains("train.ouput_dir"), err.toString());
    }
}
