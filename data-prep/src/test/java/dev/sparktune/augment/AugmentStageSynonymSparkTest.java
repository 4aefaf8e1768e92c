package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import java.util.ArrayList;
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

/** The augment stage with synonym replacement and EDA on Spark {@code local[2]}, counts checked by construction. */
@Tag("integration")
class AugmentStageSynonymSparkTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    private static final String NOTHING_TO_REPLACE = "<EMAIL> 12345 the and of";
    private static final int ROWS = 300;

    /**
     * Row i: validation when i % 5 == 0; i % 3 picks classification (English, or Chinese when i is odd) / chat /
     * a text with no replaceable word.
     */
    private static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) {
            String id = String.format("row-%03d", i);
            String split = i % 5 == 0 ? PrepRows.SPLIT_VALIDATION : PrepRows.SPLIT_TRAIN;
            rows.add(switch (i % 3) {
                case 0 -> PreparedRows.classification(id, split, i % 2 == 0 ? "The old car " + i + " needs a big repair."
                        : "我今天很高兴，因为我买了一台新电脑。", "ham");
                case 1 -> PreparedRows.chat(id, split, "Be brief.", "Which house should I buy near <EMAIL>?",
                        "The big one.");
                default -> PreparedRows.text(id, split, NOTHING_TO_REPLACE);
            });
        }
        return rows;
    }

    private static Dataset<Row> input() {
        return spark.session().createDataFrame(rows(), PrepRows.PREPARED).repartition(3);
    }

    @Test
    void everyTrainRowGetsASynonymCopyWhenItHasAReplaceableWord() {
        AugmentOptions options = new AugmentOptions(42, 1.0, 0.0, 0.0,
                new SynonymOptions(0.5, 3, List.of()), EdaOptions.defaults(), null);
        AugmentResult result = new AugmentStage(options).apply(input());
        AugmentCounts counts = result.counts();

        long train = rows().stream().filter(r -> PrepRows.SPLIT_TRAIN.equals(r.getString(3))).count();
        long trainNothing = rows().stream().filter(r -> PrepRows.SPLIT_TRAIN.equals(r.getString(3))
                && NOTHING_TO_REPLACE.equals(r.getString(6))).count();
        assertEquals(ROWS, counts.inputRows());
        assertEquals(train, counts.trainRows());
        assertEquals(train - trainNothing, counts.augmented(AugmentMethod.SYNONYM));
        assertEquals(trainNothing, counts.unaugmented(AugmentMethod.SYNONYM, "no_replaceable_word"));
        assertEquals(trainNothing, counts.unaugmented(AugmentMethod.SYNONYM));
        assertEquals(ROWS + train - trainNothing, counts.outputRows());

        List<Row> out = result.result().kept().collectAsList();
        assertEquals(PrepRows.PREPARED, result.result().kept().schema());
        assertEquals(0, result.result().rejected().count());
        assertEquals(counts.outputRows(), out.size());
        checkCopies(out, rows());
    }

    @Test
    void ratiosPickAboutThatShareOfTrainRowsAndCountsAddUp() {
        AugmentOptions options = new AugmentOptions(7, 0.5, 1.5, 0.0,
                new SynonymOptions(0.3, 2, List.of()), new EdaOptions(0.2, 0.2, 0.2), null);
        AugmentResult result = new AugmentStage(options).apply(input());
        AugmentCounts c = result.counts();
        long train = c.trainRows();
        long synonymAsked = c.augmented(AugmentMethod.SYNONYM) + c.unaugmented(AugmentMethod.SYNONYM);
        long edaAsked = c.augmented(AugmentMethod.EDA) + c.unaugmented(AugmentMethod.EDA);
        // binomial(240, 0.5): mean 120, sd 7.7; EDA 1.5 = one copy each plus binomial(240, 0.5) second copies
        assertTrue(Math.abs(synonymAsked - train * 0.5) < 35, () -> "synonym copies asked " + synonymAsked);
        assertTrue(Math.abs(edaAsked - train * 1.5) < 35, () -> "eda copies asked " + edaAsked);
        List<Row> out = result.result().kept().collectAsList();
        Map<String, Long> byMethod = new HashMap<>();
        for (Row r : out) {
            if (!r.isNullAt(9)) {
                byMethod.merge(r.getString(9), 1L, Long::sum);
            }
        }
        assertEquals(c.augmented(AugmentMethod.SYNONYM), byMethod.getOrDefault("synonym", 0L));
        assertEquals(c.augmented(AugmentMethod.EDA), byMethod.getOrDefault("eda", 0L));
        assertEquals(c.inputRows() + c.augmented(AugmentMethod.SYNONYM) + c.augmented(AugmentMethod.EDA), out.size());
        checkCopies(out, rows());

        // a rerun gives the same rows
        List<Row> again = new AugmentStage(options).apply(input()).result().kept().collectAsList();
        assertEquals(sorted(out), sorted(again));
    }

    @Test
    void inputWithoutThePreparedColumnsIsRefusedWithTheirNames() {
        Dataset<Row> wrong = input().drop(PrepRows.SPLIT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AugmentStage(AugmentOptions.none()).apply(wrong));
        assertTrue(e.getMessage().contains("[split]"), e.getMessage());
    }

    /** Originals unchanged and all present; copies only of train rows, rewriting only text and user turns. */
    private static void checkCopies(List<Row> out, List<Row> in) {
        Map<String, Row> inputById = new HashMap<>();
        in.forEach(r -> inputById.put(r.getString(0), r));
        Set<String> ids = new HashSet<>();
        int originals = 0;
        for (Row r : out) {
            assertTrue(ids.add(r.getString(0)), "duplicate id " + r.getString(0));
            if (r.isNullAt(8)) {
                assertEquals(inputById.get(r.getString(0)), r);
                originals++;
                continue;
            }
            Row parent = inputById.get(r.getString(8));
            assertNotNull(parent, "copy of an unknown row " + r.getString(8));
            assertEquals(PrepRows.SPLIT_TRAIN, parent.getString(3));
            assertEquals(PrepRows.SPLIT_TRAIN, r.getString(3));
            assertNotNull(r.getString(9));
            assertNotEquals(parent.getString(0), r.getString(0));
            for (int f : new int[] {1, 2, 4, 7}) { // dataset, format, system, label
                assertEquals(parent.get(f), r.get(f), "field " + f);
            }
            if (parent.isNullAt(5)) {
                assertNull(r.get(5));
                assertNotEquals(parent.getString(6), r.getString(6));
            } else {
                List<Row> before = parent.getList(5);
                List<Row> after = r.getList(5);
                assertEquals(before.get(1), after.get(1), "assistant turn changed");
                assertNotEquals(before.get(0).getString(1), after.get(0).getString(1));
                assertTrue(after.get(0).getString(1).contains("<EMAIL>"), after.get(0).getString(1));
            }
        }
        assertEquals(in.size(), originals);
    }

    private static List<String> sorted(List<Row> rows) {
        return rows.stream().map(Row::toString).sorted().toList();
    }
}
