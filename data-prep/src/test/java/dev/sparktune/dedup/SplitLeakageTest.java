package dev.sparktune.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class SplitLeakageTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    private static final DedupOptions OPTIONS = DedupOptions.defaults();
    private static final MinHasher HASHER = new MinHasher(OPTIONS.numPerm(), OPTIONS.shingleSize(),
            LshBands.forThreshold(OPTIONS.threshold(), OPTIONS.numPerm()));

    @Test
    void aCleanSplitReportsNoLeak() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            rows.add(row("r" + i, "mail", i < 40 ? PrepRows.SPLIT_TEST : PrepRows.SPLIT_TRAIN,
                    SyntheticCorpus.sentence(40, i), null));
        }
        assertEquals(new SplitLeakage.Counts(40, 160, 0, 0), check(rows));
    }

    @Test
    void exactAndNearCopiesOfTestRowsInTrainingAreFoundAugmentedOnesIncluded() {
        String exact = SyntheticCorpus.sentence(40, 101);
        String near = SyntheticCorpus.sentence(40, 102);
        String nearAugmented = SyntheticCorpus.sentence(40, 103);
        String far = SyntheticCorpus.sentence(40, 104);
        String otherTask = SyntheticCorpus.sentence(40, 105);
        String inValidation = SyntheticCorpus.sentence(40, 106);
        String nearCopy = SyntheticCorpus.substitute(near, 2, 1);
        String augmentedCopy = SyntheticCorpus.substitute(nearAugmented, 2, 2);
        String farCopy = SyntheticCorpus.substitute(far, 25, 3);
        // the premises, with the exact Jaccard similarity
        assertTrue(HASHER.jaccard(near, nearCopy) >= OPTIONS.threshold(), "near copy is near");
        assertTrue(HASHER.jaccard(nearAugmented, augmentedCopy) >= OPTIONS.threshold(), "augmented copy is near");
        assertTrue(HASHER.jaccard(far, farCopy) < OPTIONS.threshold(), "far copy is below the threshold");

        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            rows.add(row("train" + i, "mail", PrepRows.SPLIT_TRAIN, SyntheticCorpus.sentence(40, 1000 + i), null));
        }
        rows.add(row("t-exact", "mail", PrepRows.SPLIT_TEST, exact, null));
        rows.add(row("t-near", "mail", PrepRows.SPLIT_TEST, near, null));
        rows.add(row("t-aug", "mail", PrepRows.SPLIT_TEST, nearAugmented, null));
        rows.add(row("t-far", "mail", PrepRows.SPLIT_TEST, far, null));
        rows.add(row("t-other", "mail", PrepRows.SPLIT_TEST, otherTask, null));
        rows.add(row("t-val", "mail", PrepRows.SPLIT_TEST, inValidation, null));

        rows.add(row("c-exact", "mail", PrepRows.SPLIT_TRAIN, exact.toUpperCase().replace(" ", " \n  "), null));
        rows.add(row("c-near", "mail", PrepRows.SPLIT_TRAIN, nearCopy, null));
        rows.add(row("c-aug", "mail", PrepRows.SPLIT_TRAIN, augmentedCopy, "train7"));
        rows.add(row("c-far", "mail", PrepRows.SPLIT_TRAIN, farCopy, null));
        rows.add(row("c-other", "topics", PrepRows.SPLIT_TRAIN, otherTask, null));   // another task trains on it
        rows.add(row("c-val", "mail", PrepRows.SPLIT_VALIDATION, inValidation, null)); // not training

        // the tasks share the model: the other task's training copy of t-other is a leak as well
        assertEquals(new SplitLeakage.Counts(6, 105, 2, 2), check(rows));
    }

    private static SplitLeakage.Counts check(List<Row> rows) {
        return SplitLeakage.check(spark.session().createDataFrame(rows, PrepRows.PREPARED).repartition(3), OPTIONS);
    }

    private static Row row(String id, String dataset, String split, String text, String parent) {
        return RowFactory.create(id, dataset, PrepRows.FORMAT_CLASSIFICATION, split, null, null, text, "l", parent,
                parent == null ? null : "synonym");
    }
}
