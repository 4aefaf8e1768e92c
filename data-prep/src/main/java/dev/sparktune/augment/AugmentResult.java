package dev.sparktune.augment;

import dev.sparktune.rows.StageResult;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The augment stage's rows (originals and copies; rejected: rows whose augmentation threw) and its counts.
 *
 * @param persisted the persisted rows the kept rows are read from; {@link #release()} unpersists them once the
 *                  caller has written what it needs
 */
public record AugmentResult(StageResult result, AugmentCounts counts, Dataset<Row> persisted) {

    /** Unpersists the stage's rows; call after the last read of {@code result().kept()}. */
    public void release() {
        persisted.unpersist();
    }
}
