package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {

    @TempDir
    Path dir;

    private static StepMetrics metrics(long step) {
        return new StepMetrics(step, 1.0 / step, Map.of("sft", 2.0 / step, "spam", 0.5 / step), 2e-5 * step,
                0.75 + step, 1234.5 * step, 3.25 * step);
    }

    @Test
    void eachLineIsAJsonObjectWithTheValuesWritten() throws IOException {
        Path file = dir.resolve("logs/metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.write(metrics(10));
            // flushed per line: readable before the log is closed, as after a crash
            assertEquals(1, Files.readAllLines(file).size());
            log.write(metrics(20));
        }
        List<String> lines = Files.readAllLines(file);
        assertEquals(2, lines.size());
        JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        assertEquals(10, first.get("step").getAsLong());
        assertEquals(0.1, first.get("loss").getAsDouble());
        assertEquals(0.2, first.getAsJsonObject("task_losses").get("sft").getAsDouble());
        assertEquals(0.05, first.getAsJsonObject("task_losses").get("spam").getAsDouble());
        assertEquals(2e-4, first.get("lr").getAsDouble());
        assertEquals(10.75, first.get("grad_norm").getAsDouble());
        assertEquals(12345.0, first.get("tokens_per_second").getAsDouble());
        assertEquals(32.5, first.get("elapsed_seconds").getAsDouble());

        assertEquals(List.of(metrics(10), metrics(20)), MetricsLog.read(file));
    }

    @Test
    void rowCountsAndValidationMetricsAreFlatKeysOfTheLine() throws IOException {
        Path file = dir.resolve("metrics.jsonl");
        StepMetrics validated = new StepMetrics(8, 0.5, Map.of(), 1e-4, 0.3, 100, 2, 0.25,
                Map.of("cls", 96L, "sft", 32L), Map.of("validation", 1.31, "validation/cls/loss", 1.2,
                        "validation/cls/accuracy", 0.75, "validation/sft/loss", 1.42, "validation/sft/perplexity", 4.137));
        try (MetricsLog log = MetricsLog.create(file)) {
            log.write(validated);
        }
        JsonObject line = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertEquals(0.25, line.get("communication_seconds").getAsDouble());
        assertEquals(96, line.get("rows/cls").getAsLong());
        assertEquals("32", line.get("rows/sft").toString(), "a count is written as a whole number");
        assertEquals(1.31, line.get("validation").getAsDouble());
        assertEquals(0.75, line.get("validation/cls/accuracy").getAsDouble());
        assertEquals(4.137, line.get("validation/sft/perplexity").getAsDouble());
        assertEquals(List.of(validated), MetricsLog.read(file));
        assertTrue(MetricsLog.read(file).get(0).validated());
    }

    @Test
    void aNonFiniteValueIsWrittenAsNull() throws IOException {
        Path file = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.write(new StepMetrics(3, Double.NaN, Map.of("a", Double.POSITIVE_INFINITY), 1e-5, Double.NaN, 10, 1));
        }
        JsonObject line = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertTrue(line.get("loss").isJsonNull());
        assertTrue(line.get("grad_norm").isJsonNull());
        assertTrue(line.getAsJsonObject("task_losses").get("a").isJsonNull());
        StepMetrics back = MetricsLog.read(file).get(0);
        assertTrue(Double.isNaN(back.loss()));
        assertEquals(1e-5, back.learningRate());
    }

    @Test
    void resumingDropsStepsAfterTheCheckpointAndATornLastLine() throws IOException {
        Path file = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            for (long step = 10; step <= 40; step += 10) {
                log.write(metrics(step));
            }
        }
        Files.writeString(file, Files.readString(file) + "{\"step\": 50, \"lo");
        try (MetricsLog log = MetricsLog.resume(file, 20)) {
            log.write(metrics(30));
        }
        assertEquals(List.of(metrics(10), metrics(20), metrics(30)), MetricsLog.read(file));

        // only the last line may be broken: damage earlier is an error, not silently dropped
        Files.writeString(file, "not json\n" + Files.readString(file));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MetricsLog.resume(file, 20));
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    }
}
