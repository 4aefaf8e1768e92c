package dev.sparktune.dedup;

import static dev.sparktune.prep.PreparedRowsForTests.chat;
import static dev.sparktune.prep.PreparedRowsForTests.classification;
import static dev.sparktune.prep.PreparedRowsForTests.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.SparkClusterExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class DedupStageTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @Test
    void exactDuplicatesIgnoreCaseAndWhitespaceAndKeepTheSmallestId() {
        List<Row> in = List.of(
                text("b", "The same sentence,  twice."),
                text("a", "the same SENTENCE, twice."),
                text("c", "the same sentence,\n twice."),
                text("d", "A different sentence."),
                classification("l1", "Win a free cruise now", "spam"),
                classification("l2", "win a FREE cruise now", "ham"),
                chat("s1", "sys", "hello there", "general kenobi"),
                chat("s2", "sys", "hello there", "general kenobi"),
                chat("s3", "other system", "hello there", "general kenobi"));
        StageResult result = DedupStage.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                DedupOptions.defaults(), Map.of());
        Set<String> kept = ids(result.kept().collectAsList(), PrepRows.ID);
        Map<String, String> rejected = reasons(result);
        assertEquals(Set.of("a", "d", "l1", "s1", "s3"), kept);
        assertEquals(Set.of("b", "c", "l2", "s2"), rejected.keySet());
        assertTrue(rejected.get("b").startsWith("exact duplicate of a "), rejected.get("b"));
        assertTrue(rejected.get("c").startsWith("exact duplicate of a "), rejected.get("c"));
        assertTrue(rejected.get("l2").contains("label 'ham' differs from the kept row's 'spam'"), rejected.get("l2"));
        assertTrue(rejected.get("s2").startsWith("exact duplicate of s1"), rejected.get("s2"));
    }

    @Test
    void rowsAreComparedOnlyWithinTheirTask() {
        String near = SyntheticCorpus.sentence(60, 7);
        List<Row> in = List.of(
                row("h1", "ham", "Lunch at noon? The usual place."),
                row("s1", "spam", "lunch at NOON?  The usual place."),
                row("t1", "topics", "Lunch at noon? The usual place."),
                row("h2", "ham", near),
                row("t2", "topics", near + " x"));
        // ham and spam form one task (as two registry entries with task: spam_filter); topics is its own
        Map<String, String> tasks = Map.of("ham", "spam_filter", "spam", "spam_filter", "topics", "topics");
        StageResult result = DedupStage.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                DedupOptions.defaults(), tasks);
        assertEquals(Set.of("h1", "t1", "h2", "t2"), ids(result.kept().collectAsList(), PrepRows.ID));
        assertTrue(reasons(result).get("s1").startsWith("exact duplicate of h1"), reasons(result).toString());
        // the premise: in one task, t2 is a near-duplicate of h2
        StageResult oneTask = DedupStage.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                DedupOptions.defaults(), Map.of("ham", "all", "spam", "all", "topics", "all"));
        assertEquals(Set.of("h1", "h2"), ids(oneTask.kept().collectAsList(), PrepRows.ID));
    }

    private static Row row(String id, String dataset, String text) {
        return org.apache.spark.sql.RowFactory.create(id, dataset, PrepRows.FORMAT_TEXT, null, null, null, text, null,
                null, null);
    }

    @Test
    void plantedNearDuplicatesAreFoundAndDistinctRowsKept() {
        List<Row> in = new ArrayList<>();
        Map<String, String> texts = new HashMap<>();
        for (int i = 0; i < 400; i++) {
            String id = String.format(Locale.ROOT, "r%04d", i);
            texts.put(id, SyntheticCorpus.sentence(60, i));
        }
        // 30 planted groups: a base row and one or two copies with 1 to 3 letters changed; half of the copies get
        // an id smaller than their base, so "keep the smallest id" is tested in both directions
        Map<String, String> expectedKeptOf = new HashMap<>();
        for (int g = 0; g < 30; g++) {
            String base = String.format(Locale.ROOT, "r%04d", g * 10);
            String copy = g % 2 == 0 ? "s" + base : "a" + base; // "ar0000" < "r0000" < "sr0000"
            texts.put(copy, SyntheticCorpus.substitute(texts.get(base), 1 + g % 3, 1000 + g));
            String kept = copy.compareTo(base) < 0 ? copy : base;
            expectedKeptOf.put(copy.equals(kept) ? base : copy, kept);
            if (g % 5 == 0) {
                String third = "z" + base;
                texts.put(third, SyntheticCorpus.substitute(texts.get(base), 2, 2000 + g));
                expectedKeptOf.put(third, kept);
            }
        }
        // rows that share much with another but are not near-duplicates: every third word rewritten
        for (int g = 0; g < 10; g++) {
            String base = String.format(Locale.ROOT, "r%04d", 305 + g);
            texts.put("x" + base, SyntheticCorpus.rewriteWords(texts.get(base), 3, 3000 + g));
        }
        texts.forEach((id, t) -> in.add(text(id, t)));
        int shingle = 5;
        double threshold = 0.8;
        // the test's own premise, checked with a string-set Jaccard: planted pairs are above the threshold (with
        // margin: from Jaccard 0.88 on, LSH makes a pair a candidate with probability > 0.99), rewritten pairs are
        // below it
        for (Map.Entry<String, String> e : expectedKeptOf.entrySet()) {
            double j = MinHasherTest.referenceJaccard(content(texts.get(e.getKey())), content(texts.get(e.getValue())),
                    shingle);
            assertTrue(j >= 0.88, e + " " + j);
        }
        for (int g = 0; g < 10; g++) {
            String base = String.format(Locale.ROOT, "r%04d", 305 + g);
            double j = MinHasherTest.referenceJaccard(texts.get(base), texts.get("x" + base), shingle);
            assertTrue(j < 0.7 && j > 0.2, base + " " + j);
        }

        StageResult result = DedupStage.apply(spark.session().createDataFrame(in, PrepRows.PREPARED).repartition(3),
                new DedupOptions(true, true, threshold, 128, shingle, 30), Map.of());
        List<Row> keptRows = result.kept().collectAsList();
        Map<String, String> rejected = reasons(result);
        assertEquals(in.size(), keptRows.size() + rejected.size(), "in = kept + rejected");
        assertEquals(new TreeSet<>(expectedKeptOf.keySet()), new TreeSet<>(rejected.keySet()));
        for (Map.Entry<String, String> e : expectedKeptOf.entrySet()) {
            String reason = rejected.get(e.getKey());
            assertTrue(reason.startsWith("near-duplicate of " + e.getValue()), e + ": " + reason);
            if (!reason.contains("(same group)")) {
                double j = MinHasherTest.referenceJaccard(content(texts.get(e.getKey())),
                        content(texts.get(e.getValue())), shingle);
                assertTrue(reason.contains(String.format(Locale.ROOT, "Jaccard similarity %.3f", j)),
                        reason + " vs reference " + j);
            }
        }

        // deterministic: another partitioning gives the same result
        StageResult again = DedupStage.apply(spark.session().createDataFrame(in, PrepRows.PREPARED).repartition(5),
                new DedupOptions(true, true, threshold, 128, shingle, 30), Map.of());
        assertEquals(ids(keptRows, PrepRows.ID), ids(again.kept().collectAsList(), PrepRows.ID));
    }

    @Test
    void labelPropagationFindsEachComponentsSmallestId() {
        // a path 5-4-3-2-1 (needs several rounds), a star around 9, and a pair; reference labels by hand
        List<Row> edges = new ArrayList<>();
        String[][] pairs = {{"v5", "v4"}, {"v4", "v3"}, {"v3", "v2"}, {"v2", "v1"}, {"w9", "w3"}, {"w9", "w7"},
            {"w9", "w8"}, {"z2", "z1"}};
        for (String[] p : pairs) {
            edges.add(org.apache.spark.sql.RowFactory.create(p[0], p[1]));
            edges.add(org.apache.spark.sql.RowFactory.create(p[1], p[0]));
        }
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
                .add("v", "string").add("w", "string");
        Map<String, String> labels = new HashMap<>();
        for (Row r : ConnectedComponents.minLabels(spark.session().createDataFrame(edges, schema), 10)
                .collectAsList()) {
            labels.put(r.getAs("v"), r.getAs("label"));
        }
        assertEquals(Map.of("v1", "v1", "v2", "v1", "v3", "v1", "v4", "v1", "v5", "v1",
                "w3", "w3", "w7", "w3", "w8", "w3", "w9", "w3", "z1", "z1"), withoutKey(labels, "z2"));
        assertEquals("z1", labels.get("z2"));
    }

    private static Map<String, String> withoutKey(Map<String, String> m, String key) {
        Map<String, String> out = new HashMap<>(m);
        out.remove(key);
        return out;
    }

    /** The normalised content of a text row (lower-case, single spaces): format, empty system and messages, text. */
    private static String content(String text) {
        return "text\u001f\u001f\u001f" + text;
    }

    private static Map<String, String> reasons(StageResult result) {
        Map<String, String> out = new HashMap<>();
        for (Row r : result.rejected().collectAsList()) {
            assertEquals("dedup", r.getAs(PrepRows.STAGE));
            out.put(r.getAs(PrepRows.SOURCE), r.getAs(PrepRows.REASON));
        }
        return out;
    }

    private static Set<String> ids(List<Row> rows, String column) {
        Set<String> out = new HashSet<>();
        for (Row r : rows) {
            out.add(r.getAs(column));
        }
        return out;
    }
}
