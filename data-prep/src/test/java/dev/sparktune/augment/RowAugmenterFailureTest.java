package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.io.HadoopConf;
import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

/**
 * Issue 19: the augment stage had no per-row catch, so one row whose augmentation threw failed the task, and Spark
 * the job. Now that row comes out once, unchanged, with a reason (it becomes a rejected row) and the others go on.
 */
class RowAugmenterFailureTest {

    @Test
    void aRowWhoseAugmentationThrowsIsEmittedWithAReasonAndTheOthersAreAugmented() {
        AugmentOptions options = new AugmentOptions(7, 0, 1.0, 0, SynonymOptions.defaults(), EdaOptions.defaults(),
                null);
        Row good = PreparedRows.text("good", PrepRows.SPLIT_TRAIN, "The quick brown fox jumps over the lazy dog today.");
        // messages that are not a list of turns: reading the row's pieces throws a ClassCastException
        Row broken = RowFactory.create("broken", "ds", PrepRows.FORMAT_SHAREGPT, PrepRows.SPLIT_TRAIN, null,
                "not a list of turns", null, null, null, null);
        Row after = PreparedRows.text("after", PrepRows.SPLIT_TRAIN, "A second sentence with several words to shuffle.");

        List<Row> out = new ArrayList<>();
        Iterator<Row> rows = new RowAugmenter(options, new HadoopConf(new Configuration()))
                .call(List.of(good, broken, after).iterator());
        rows.forEachRemaining(out::add);

        int outcomes = RowAugmenter.SCHEMA.fieldIndex(RowAugmenter.OUTCOMES);
        int reason = RowAugmenter.SCHEMA.fieldIndex(RowAugmenter.REASON);
        List<Row> rejected = out.stream().filter(r -> !r.isNullAt(reason)).toList();
        assertEquals(1, rejected.size(), out.toString());
        assertEquals("broken", rejected.get(0).getString(0));
        assertNull(rejected.get(0).get(outcomes));
        assertTrue(rejected.get(0).getString(reason).startsWith("augmenting failed: java.lang.ClassCastException"),
                rejected.get(0).getString(reason));
        List<String> originals = out.stream().filter(r -> !r.isNullAt(outcomes)).map(r -> r.getString(0)).toList();
        assertEquals(List.of("good", "after"), originals);
        assertEquals(2, out.stream().filter(r -> r.isNullAt(outcomes) && r.isNullAt(reason)).count(), "one EDA copy each");
    }
}
