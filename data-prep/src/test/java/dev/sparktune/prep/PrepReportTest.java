package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code _report.json} reads back into the report that wrote it. */
class PrepReportTest {

    @Test
    void readsBackWhatItWrote() {
        Map<String, Long> histogram = new LinkedHashMap<>();
        histogram.put("64", 3L);
        histogram.put("128", 7L);
        PrepReport report = new PrepReport(List.of("spam", "ham"), "dt=2026-12-04",
                List.of(new StageCounts("ingest", 12, 10, 2), new StageCounts("dedup", 10, 9, 1)), 9, 3,
                Map.of("train", 7L, "validation", 1L, "test", 1L), histogram, Map.of("train", 8L, "validation", 1L),
                null, Map.of("test_rows", 1.0, "train_rows", 7.0, "exact", 0.0, "near", 0.0));

        PrepReport back = PrepReport.fromJson(report.toJson());

        assertEquals(report, back);
        assertEquals(List.of("64", "128"), List.copyOf(back.tokenLengthHistogram().keySet()));
    }

    @Test
    void aReportWithoutOptionalStagesReadsBackWithNulls() {
        PrepReport back = PrepReport.fromJson(new PrepReport(List.of("demo"), null,
                List.of(new StageCounts("ingest", 3, 2, 1)), 2, 1, null, null, null, null, null).toJson());

        assertNull(back.partition());
        assertNull(back.tokenLengthHistogram());
        assertNull(back.tokenizedRows());
        assertNull(back.splits());
        assertNull(back.leakage());
        assertEquals(List.of(new StageCounts("ingest", 3, 2, 1)), back.stages());
    }
}
