package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.SparkClusterExtension;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class StableSplitTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @Test
    void heldOutRowsAreTheGroupsSmallestHashesComputedIndependently() throws Exception {
        int n = 10_000;
        Map<String, String> split = splits(StableSplit.apply(rows(0, n, 4),
                new StableSplit.Options(0.1, 0.05, List.of(), Map.of())));
        assertEquals(n, split.size());
        // the reference: rank every row by the JDK's SHA-256 of its content (format, no system, no messages, text,
        // joined by unit separators), the first 1000 are validation, the next 500 test
        List<String> byHash = new ArrayList<>(split.keySet());
        Map<String, Double> u = new HashMap<>();
        for (String id : byHash) {
            u.put(id, referenceHash("text\u001f\u001f\u001ftext " + id.substring("doc-".length())));
        }
        byHash.sort(Comparator.comparing((String id) -> u.get(id)).thenComparing(id -> id));
        for (int rank = 0; rank < n; rank++) {
            String expected = rank < 1000 ? PrepRows.SPLIT_VALIDATION
                    : rank < 1500 ? PrepRows.SPLIT_TEST : PrepRows.SPLIT_TRAIN;
            assertEquals(expected, split.get(byHash.get(rank)), "rank " + rank + ", " + byHash.get(rank));
        }
    }

    @Test
    void eachLabelOfEachTaskIsSplitInExactShares() {
        // skewed: 9000 ham, 970 spam, 30 rare, 2 tiny; a second task with its own labels; 0.1 + 0.2 is
        // 0.30000000000000004 in binary, which must not turn 2700 of 9000 held-out rows into 2701
        List<Row> in = new ArrayList<>();
        Map<String, Integer> sizes = new LinkedHashMap<>();
        sizes.put("ham", 9000);
        sizes.put("spam", 970);
        sizes.put("rare", 30);
        sizes.put("tiny", 2);
        sizes.forEach((label, size) -> {
            for (int i = 0; i < size; i++) {
                in.add(row("mail-" + label + "-" + i, "mail", label));
            }
        });
        for (int i = 0; i < 50; i++) {
            in.add(row("topic-" + i, "topics", i < 40 ? "sport" : "rare"));
        }
        Dataset<Row> input = spark.session().createDataFrame(in, PrepRows.PREPARED).repartition(5);
        Dataset<Row> kept = StableSplit.apply(input, new StableSplit.Options(0.1, 0.2, List.of(), Map.of())).kept();
        Map<String, Long> counts = new HashMap<>();
        for (Row r : kept.groupBy(PrepRows.DATASET, PrepRows.LABEL, PrepRows.SPLIT).count().collectAsList()) {
            counts.put(r.getString(0) + "/" + r.getString(1) + "/" + r.getString(2), r.getLong(3));
        }
        // validation ceil(n x 0.1), test ceil(n x 0.3) - ceil(n x 0.1), train the rest
        assertShares(counts, "mail/ham", 900, 1800, 6300);
        assertShares(counts, "mail/spam", 97, 194, 679);
        assertShares(counts, "mail/rare", 3, 6, 21);
        assertShares(counts, "mail/tiny", 1, 0, 1);
        assertShares(counts, "topics/sport", 4, 8, 28);
        assertShares(counts, "topics/rare", 1, 2, 7);   // its own group: not pooled with mail's rare
    }

    @Test
    void aTextSharedByTwoTasksHasOneSplitInBoth() {
        // SpamAssassin's two tasks: spam_filter (ham = easy + hard, spam) and folder (easy, hard, spam), the same
        // e-mails under other datasets, so other ids; the groups' boundaries differ between the tasks
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            String text = "mail " + i;
            String folder = i < 300 ? "easy" : i < 400 ? "hard" : "spam";
            in.add(row("filter/" + i, folder.equals("spam") ? "spam" : "ham", folder.equals("spam") ? "spam" : "ham",
                    text));
            in.add(row("folder/" + i, folder + "_folder", folder, text));
        }
        Map<String, String> tasks = Map.of("ham", "spam_filter", "spam", "spam_filter", "easy_folder", "folder",
                "hard_folder", "folder", "spam_folder", "folder");
        Dataset<Row> kept = StableSplit.apply(spark.session().createDataFrame(in, PrepRows.PREPARED).repartition(4),
                new StableSplit.Options(0.1, 0.1, List.of(), tasks)).kept();
        Map<String, String> splitOfText = new HashMap<>();
        Map<String, Long> heldOut = new HashMap<>();
        for (Row r : kept.select(PrepRows.TEXT, PrepRows.SPLIT, PrepRows.DATASET).collectAsList()) {
            String previous = splitOfText.putIfAbsent(r.getString(0), r.getString(1));
            assertTrue(previous == null || previous.equals(r.getString(1)), r.getString(0) + " is " + previous
                    + " in one task and " + r.getString(1) + " in the other");
            if (!r.getString(1).equals(PrepRows.SPLIT_TRAIN)) {
                heldOut.merge(r.getString(2) + "/" + r.getString(1), 1L, Long::sum);
            }
        }
        // each group holds out at least its share, and at most a few rows more (those held out by the other task)
        Map<String, Long> groupSize = Map.of("ham", 400L, "spam", 200L, "easy_folder", 300L, "hard_folder", 100L,
                "spam_folder", 200L);
        groupSize.forEach((group, size) -> {
            for (String s : List.of(PrepRows.SPLIT_VALIDATION, PrepRows.SPLIT_TEST)) {
                long n = heldOut.getOrDefault(group + "/" + s, 0L);
                assertTrue(n >= size / 10 && n <= size / 10 + 8, group + " holds out " + n + " " + s + " rows of "
                        + size);
            }
        });
        // the spam rows are the same e-mails in one group of each task: exactly their shares
        assertEquals(20L, heldOut.get("spam/" + PrepRows.SPLIT_TEST));
        assertEquals(20L, heldOut.get("spam_folder/" + PrepRows.SPLIT_TEST));
    }

    private static Row row(String id, String dataset, String label, String text) {
        return RowFactory.create(id, dataset, PrepRows.FORMAT_CLASSIFICATION, null, null, null, text, label, null,
                null);
    }

    @Test
    void theSameRowsAreSplitTheSameWhateverThePartitioning() {
        StableSplit.Options options = new StableSplit.Options(0.2, 0.1, List.of(), Map.of());
        Map<String, String> first = splits(StableSplit.apply(rows(0, 3000, 3), options));
        assertEquals(first, splits(StableSplit.apply(rows(0, 3000, 7), options)));
        assertEquals(first, splits(StableSplit.apply(rows(0, 3000, 1), options)));
        assertEquals(first, splits(StableSplit.apply(rows(0, 1000, 2).union(rows(1000, 3000, 5)), options)));
    }

    @Test
    void largerSharesOnlyMoveTrainingRowsAndAddedRowsMoveFew() {
        Map<String, String> first = splits(StableSplit.apply(rows(0, 3000, 3),
                new StableSplit.Options(0.2, 0.1, List.of(), Map.of())));
        // a larger val_size takes rows from test and train, never from validation; a larger test_size (same
        // val_size) moves rows from train to test alone
        Map<String, String> moreValidation = splits(StableSplit.apply(rows(0, 3000, 3),
                new StableSplit.Options(0.3, 0.1, List.of(), Map.of())));
        Map<String, String> moreTest = splits(StableSplit.apply(rows(0, 3000, 3),
                new StableSplit.Options(0.2, 0.2, List.of(), Map.of())));
        first.forEach((id, s) -> {
            if (s.equals(PrepRows.SPLIT_VALIDATION)) {
                assertEquals(PrepRows.SPLIT_VALIDATION, moreValidation.get(id), id);
            }
            if (!s.equals(PrepRows.SPLIT_TRAIN)) {
                assertEquals(s, moreTest.get(id), id);
            }
        });
        assertEquals(600, moreTest.values().stream().filter(PrepRows.SPLIT_TEST::equals).count());

        // the boundaries of a group depend on its rows: doubling the group moves the rows whose hashes lie between
        // the old and the new boundary. Their number is of the order of the boundaries' sampling error (a few
        // dozen of 3000 here), far from the ~1500 of an unstable split.
        Map<String, String> grown = splits(StableSplit.apply(rows(0, 3000, 2).union(rows(3000, 6000, 5)),
                new StableSplit.Options(0.2, 0.1, List.of(), Map.of())));
        assertEquals(6000, grown.size());
        long moved = first.entrySet().stream().filter(e -> !e.getValue().equals(grown.get(e.getKey()))).count();
        assertTrue(moved < 150, moved + " of 3000 rows changed split when 3000 rows were added");
    }

    @Test
    void givenSplitsAreKeptAndNothingIsRejected() {
        List<Row> in = List.of(
                RowFactory.create("a", "ds", "text", PrepRows.SPLIT_VALIDATION, null, null, "x", null, null, null),
                RowFactory.create("b", "ds", "text", null, null, null, "y", null, null, null),
                RowFactory.create("c", "ds", "text", PrepRows.SPLIT_TEST, null, null, "z", null, null, null));
        StageResult result = StableSplit.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                new StableSplit.Options(0.0));
        Map<String, String> split = splits(result);
        assertEquals(PrepRows.SPLIT_VALIDATION, split.get("a"));
        assertEquals(PrepRows.SPLIT_TRAIN, split.get("b"));
        assertEquals(PrepRows.SPLIT_TEST, split.get("c"));
        assertEquals(0L, result.rejected().count());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new StableSplit.Options(1.0)).getMessage()
                .contains("val_size"));
        String both = assertThrows(IllegalArgumentException.class,
                () -> new StableSplit.Options(0.6, 0.4, List.of(), Map.of())).getMessage();
        assertTrue(both.contains("val_size") && both.contains("test_size"), both);
    }

    /** u = first 52 bits of SHA-256(content) / 2^52, computed here with the JDK alone. */
    private static double referenceHash(String content) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(content.getBytes(StandardCharsets.UTF_8));
        long bits = 0;
        for (int i = 0; i < 7; i++) {
            bits = (bits << 8) | (d[i] & 0xFF);
        }
        return (bits >>> 4) / Math.pow(2, 52);
    }

    private static void assertShares(Map<String, Long> counts, String group, long validation, long test, long train) {
        assertEquals(validation, counts.getOrDefault(group + "/" + PrepRows.SPLIT_VALIDATION, 0L), group);
        assertEquals(test, counts.getOrDefault(group + "/" + PrepRows.SPLIT_TEST, 0L), group);
        assertEquals(train, counts.getOrDefault(group + "/" + PrepRows.SPLIT_TRAIN, 0L), group);
    }

    private static Row row(String id, String dataset, String label) {
        return RowFactory.create(id, dataset, PrepRows.FORMAT_CLASSIFICATION, null, null, null, "text of " + id,
                label, null, null);
    }

    @Test
    void everyRowOfAnEvaluationOnlyDatasetIsValidation() {
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            in.add(RowFactory.create("train-" + i, "reviews", "text", null, null, null, "t" + i, null, null, null));
            in.add(RowFactory.create("eval-" + i, "held_out", "text", null, null, null, "e" + i, null, null, null));
        }
        Map<String, String> split = splits(StableSplit.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                new StableSplit.Options(0.25, 0.1, List.of("held_out"), Map.of())));
        split.forEach((id, s) -> {
            if (id.startsWith("eval-")) {
                assertEquals(PrepRows.SPLIT_VALIDATION, s, id);
            }
        });
        // the other dataset is still split by val_size and test_size, its shares not diluted by the eval rows
        assertEquals(50, split.entrySet().stream().filter(e -> e.getKey().startsWith("train-")
                && e.getValue().equals(PrepRows.SPLIT_VALIDATION)).count());
        assertEquals(20, split.entrySet().stream().filter(e -> e.getKey().startsWith("train-")
                && e.getValue().equals(PrepRows.SPLIT_TEST)).count());
    }

    private static Dataset<Row> rows(int from, int to, int partitions) {
        List<Row> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(PreparedRowsForTests.text("doc-" + i, "text " + i));
        }
        return spark.session().createDataFrame(out, PrepRows.PREPARED).repartition(partitions);
    }

    private static Map<String, String> splits(StageResult result) {
        Map<String, String> out = new HashMap<>();
        for (Row r : result.kept().select(PrepRows.ID, PrepRows.SPLIT).collectAsList()) {
            out.put(r.getString(0), r.getString(1));
        }
        return out;
    }
}
