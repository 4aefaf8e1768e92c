package dev.sparktune.clean;

import static dev.sparktune.prep.PreparedRowsForTests.chat;
import static dev.sparktune.prep.PreparedRowsForTests.classification;
import static dev.sparktune.prep.PreparedRowsForTests.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.SparkClusterExtension;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class CleanStageTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    private static final String LONG_ENGLISH = "The library opens at nine in the morning and closes at six in the"
            + " evening, except on public holidays when it stays closed all day. ";

    @Test
    void cleansEveryTextFieldAndRejectsWithReasons() {
        List<Row> input = List.of(
                text("fullwidth", "Ｔｈｅ\u3000ｑｕｉｃｋ brown fox jumps over the lazy dog near the river bank."),
                chat("html", "You are a helpful assistant. Contact <a href='mailto:x'>admin@example.com</a>.",
                        "<p>How do I reset my password?</p>",
                        "<div>Call our desk at +1 (202) 555-0143 or open the settings page&nbsp;and click reset."
                                + "</div>"),
                classification("pii", "My card 4111 1111 1111 1111 was charged twice on 2026-11-28, please help"
                        + " me get the money back.", "complaint"),
                text("controls-only", "\u0000\u0001\u200B  \u0007 \uFEFF"),
                chat("empty-answer", null, "What is the capital of France? Please answer briefly.",
                        "<script>var x = 1;</script>"),
                text("short", "Too short."),
                text("long", LONG_ENGLISH.repeat(20)),
                text("german", "Die Bibliothek öffnet um neun Uhr morgens und schließt um sechs Uhr abends,"
                        + " außer an Feiertagen."),
                text("chinese", "图书馆早上九点开门，晚上六点关门，节假日全天关闭，欢迎大家前来阅读。"),
                text("digits", "1234 5678 90 -- 11 22 33 44 55 66 77 88"));
        Dataset<Row> in = spark.session().createDataFrame(input, PrepRows.PREPARED);
        CleanOptions options = CleanOptions.defaults()
                .withLengths(20, 1000)
                .withLanguages(List.of("en", "zh"), List.of("de", "fr"));

        StageResult result = CleanStage.apply(in, options);
        Map<String, Row> kept = byId(result.kept().collectAsList(), PrepRows.ID);
        Map<String, Row> rejected = byId(result.rejected().collectAsList(), PrepRows.SOURCE);

        assertEquals(input.size(), kept.size() + rejected.size(), "in = kept + rejected");
        Set<String> all = new HashSet<>(kept.keySet());
        all.addAll(rejected.keySet());
        assertEquals(input.size(), all.size(), "every id exactly once");
        assertEquals(Set.of("fullwidth", "html", "pii", "chinese"), kept.keySet());

        assertEquals("The quick brown fox jumps over the lazy dog near the river bank.",
                kept.get("fullwidth").getAs(PrepRows.TEXT));
        Row html = kept.get("html");
        assertEquals("You are a helpful assistant. Contact <EMAIL>.", html.getAs(PrepRows.SYSTEM));
        List<Row> turns = html.getList(html.fieldIndex(PrepRows.MESSAGES));
        assertEquals("How do I reset my password?", turns.get(0).getAs(PrepRows.CONTENT));
        assertEquals("Call our desk at <PHONE> or open the settings page and click reset.",
                turns.get(1).getAs(PrepRows.CONTENT));
        assertEquals(PrepRows.ROLE_ASSISTANT, turns.get(1).getAs(PrepRows.ROLE));
        assertEquals("My card <CARD> was charged twice on 2026-11-28, please help me get the money back.",
                kept.get("pii").getAs(PrepRows.TEXT));
        assertEquals("complaint", kept.get("pii").getAs(PrepRows.LABEL));
        assertNull(kept.get("fullwidth").getAs(PrepRows.SYSTEM));

        for (Row r : rejected.values()) {
            assertEquals("clean", r.getAs(PrepRows.STAGE));
            assertEquals("ds", r.getAs(PrepRows.DATASET));
            assertTrue(((String) r.getAs(PrepRows.RECORD)).contains("\"id\":\"" + r.getAs(PrepRows.SOURCE) + "\""),
                    "the record is the original row as JSON: " + r.getAs(PrepRows.RECORD));
        }
        assertReason(rejected, "controls-only", "text is empty after cleaning");
        assertReason(rejected, "empty-answer", "message 2 (assistant) is empty after cleaning");
        assertReason(rejected, "short", "too short: 10 characters after cleaning, fewer than min_chars 20");
        assertReason(rejected, "long", "too long: " + LONG_ENGLISH.repeat(20).strip().length()
                + " characters after cleaning, more than max_chars 1000");
        assertReason(rejected, "german", "language is de, not one of the kept languages [en, zh]");
        assertReason(rejected, "digits", "language could not be identified");
    }

    @Test
    void withoutLanguagesOrMasksOnlyNormalisationAndLengthApply() {
        List<Row> input = List.of(
                text("a", "Ｍａｉｌ me at a@b.example, bitte schnell antworten."),
                text("b", "   "));
        Dataset<Row> in = spark.session().createDataFrame(input, PrepRows.PREPARED);
        StageResult result = CleanStage.apply(in, CleanOptions.defaults().withPiiMasks(Map.of()));
        List<Row> kept = result.kept().collectAsList();
        assertEquals(1, kept.size());
        assertEquals("Mail me at a@b.example, bitte schnell antworten.", kept.get(0).getAs(PrepRows.TEXT));
        assertEquals(1L, result.rejected().count());
    }

    private static void assertReason(Map<String, Row> rejected, String id, String expected) {
        Row r = rejected.get(id);
        assertTrue(r != null, id + " should be rejected");
        String reason = r.getAs(PrepRows.REASON);
        assertTrue(reason.startsWith(expected), id + ": " + reason);
    }

    private static Map<String, Row> byId(List<Row> rows, String column) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : rows) {
            out.put(r.getAs(column), r);
        }
        return out;
    }
}
