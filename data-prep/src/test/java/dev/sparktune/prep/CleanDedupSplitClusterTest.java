package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.clean.CleanOptions;
import dev.sparktune.clean.CleanStage;
import dev.sparktune.dedup.DedupOptions;
import dev.sparktune.dedup.DedupStage;
import dev.sparktune.dedup.SyntheticCorpus;
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
import java.util.SplittableRandom;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Clean, dedup and split chained on a few thousand rows in separate executor JVMs. */
@Tag("integration")
class CleanDedupSplitClusterTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    private static final String[] GERMAN = ("der die das und ist nicht ein eine mit auf für von wir sie haben werden"
            + " heute morgen Haus Garten Fenster Bahnhof Küche Winter Sommer Brot Kaffee Lehrer Brücke Wald Insel"
            + " Dorf schön ruhig laut freundlich alt neu groß klein wichtig schnell langsam gehen kommen sehen"
            + " machen sagen geben finden Stadt Straße Zeitung Wetter Mittag Abend").split(" ");

    @Test
    void threeStagesKeepCountsAndRejectWhatWasPlanted() {
        List<Row> rows = new ArrayList<>();
        Set<String> german = new HashSet<>();
        Set<String> tooShort = new HashSet<>();
        Set<String> duplicates = new HashSet<>();
        Map<String, String> english = new HashMap<>();
        for (int i = 0; i < 2500; i++) {
            String id = String.format(Locale.ROOT, "e%05d", i);
            String t = SyntheticCorpus.sentence(30 + i % 30, i);
            english.put(id, t);
            // every 25th row is wrapped in HTML, every 40th carries an e-mail address and a phone number
            String stored = i % 25 == 0 ? "<p>" + t + "</p><br><div>&nbsp;</div>"
                    : i % 40 == 1 ? t + " Contact jane.doe" + i + "@example.com or +44 20 7946 0958." : t;
            rows.add(PreparedRowsForTests.text(id, stored));
        }
        // near and exact duplicates are made of undecorated rows (index not 0 mod 25, not 1 mod 40)
        for (int i = 0; i < 150; i++) {
            int k = i * 13 + 2;
            if (k % 25 == 0 || k % 40 == 1) {
                continue;
            }
            String base = String.format(Locale.ROOT, "e%05d", k);
            String id = "n" + base.substring(1);
            rows.add(PreparedRowsForTests.text(id, SyntheticCorpus.substitute(english.get(base), 1, i)));
            duplicates.add(id);
        }
        for (int i = 0; i < 100; i++) {
            String base = String.format(Locale.ROOT, "e%05d", i * 20 + 3); // never 0 mod 25 nor 1 mod 40
            String id = "x" + base.substring(1);
            // full-width and upper-case: an exact duplicate once NFKC and case folding apply
            rows.add(PreparedRowsForTests.text(id, toFullWidth(english.get(base).toUpperCase(Locale.ROOT))));
            duplicates.add(id);
        }
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 100; i++) {
            String id = String.format(Locale.ROOT, "g%05d", i);
            StringBuilder sb = new StringBuilder();
            for (int w = 0; w < 25; w++) {
                sb.append(w == 0 ? "" : " ").append(GERMAN[r.nextInt(GERMAN.length)]);
            }
            rows.add(PreparedRowsForTests.text(id, sb.append('.').toString()));
            german.add(id);
        }
        for (int i = 0; i < 30; i++) {
            String id = String.format(Locale.ROOT, "s%05d", i);
            rows.add(PreparedRowsForTests.text(id, "tiny " + i));
            tooShort.add(id);
        }
        Dataset<Row> in = spark.session().createDataFrame(rows, PrepRows.PREPARED).repartition(4);
        long start = System.nanoTime();

        StageResult clean = CleanStage.apply(in, CleanOptions.defaults().withLengths(20, 0)
                .withLanguages(List.of("en"), List.of("de", "fr")));
        Dataset<Row> cleaned = clean.kept().persist(StorageLevel.MEMORY_AND_DISK());
        Map<String, String> cleanRejected = reasons(clean.rejected());
        long cleanedCount = cleaned.count();
        assertEquals(rows.size(), cleanedCount + cleanRejected.size(), "clean: in = kept + rejected");
        Set<String> expectedCleanRejects = new HashSet<>(german);
        expectedCleanRejects.addAll(tooShort);
        assertEquals(expectedCleanRejects, cleanRejected.keySet());
        german.forEach(id -> assertTrue(cleanRejected.get(id).startsWith("language is de"), cleanRejected.get(id)));

        System.out.printf(Locale.ROOT, "clean: %d rows in, %d kept, %d rejected, %.1f s%n", rows.size(), cleanedCount,
                cleanRejected.size(), (System.nanoTime() - start) / 1e9);
        start = System.nanoTime();
        StageResult dedup = DedupStage.apply(cleaned, DedupOptions.defaults(), java.util.Map.of());
        Dataset<Row> unique = dedup.kept().persist(StorageLevel.MEMORY_AND_DISK());
        Map<String, String> dedupRejected = reasons(dedup.rejected());
        long uniqueCount = unique.count();
        assertEquals(cleanedCount, uniqueCount + dedupRejected.size(), "dedup: in = kept + rejected");
        assertEquals(duplicates, dedupRejected.keySet());
        for (String id : duplicates) {
            String kept = "e" + id.substring(1);
            String expected = (id.startsWith("x") ? "exact" : "near-duplicate") + (id.startsWith("x") ? " duplicate of "
                    : " of ") + kept;
            assertTrue(dedupRejected.get(id).startsWith(expected), id + ": " + dedupRejected.get(id));
        }

        System.out.printf(Locale.ROOT, "dedup: %d kept, %d rejected, %.1f s%n", uniqueCount, dedupRejected.size(),
                (System.nanoTime() - start) / 1e9);
        StageResult split = StableSplit.apply(unique, new StableSplit.Options(0.1));
        List<Row> out = split.kept().select(PrepRows.ID, PrepRows.SPLIT, PrepRows.TEXT).collectAsList();
        assertEquals(uniqueCount, out.size());
        assertEquals(0L, split.rejected().count());
        long validation = out.stream().filter(row -> PrepRows.SPLIT_VALIDATION.equals(row.getString(1))).count();
        assertEquals((out.size() + 9) / 10, validation, "ceil(n x 0.1): the rows form one group (one task, no label)");
        for (Row row : out) {
            String t = row.getString(2);
            assertFalse(t.contains("@") || t.contains("<p>") || t.contains("&nbsp;") || t.contains("7946"),
                    row.getString(0) + ": " + t);
            if (t.contains("Contact")) {
                assertTrue(t.endsWith("Contact <EMAIL> or <PHONE>."), t);
            }
        }
        cleaned.unpersist();
        unique.unpersist();
    }

    private static String toFullWidth(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            sb.append(c == ' ' ? '\u3000' : c >= '!' && c <= '~' ? (char) (c - '!' + '\uFF01') : c);
        }
        return sb.toString();
    }

    private static Map<String, String> reasons(Dataset<Row> rejected) {
        Map<String, String> out = new HashMap<>();
        for (Row r : rejected.select(PrepRows.SOURCE, PrepRows.REASON).collectAsList()) {
            assertFalse(out.containsKey(r.getString(0)), "rejected twice: " + r.getString(0));
            out.put(r.getString(0), r.getString(1));
        }
        return out;
    }
}
