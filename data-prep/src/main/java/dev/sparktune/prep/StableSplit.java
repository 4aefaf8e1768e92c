package dev.sparktune.prep;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.conv;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.when;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import java.io.Serializable;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;

/**
 * The split stage: {@code split} = {@code validation} for a stable fraction of rows, {@code train} otherwise,
 * decided by each row's own {@code id} alone. The first 13 hex digits (52 bits) of SHA-256(id, UTF-8) read as a
 * fraction u in [0, 1); the row is validation when u &lt; {@code val_size}. A row therefore never moves between
 * splits on a rerun, when other rows are added or removed, or when the data is partitioned differently, and
 * raising {@code val_size} only moves rows from train to validation. It runs before augmentation so no augmented
 * copy of a validation row reaches training. Rows that already carry a split (a dataset with its own validation
 * files) keep it, and every row of an evaluation-only dataset ({@code data.eval_dataset}) is validation. Nothing is
 * rejected.
 */
public final class StableSplit {
    public static final String STAGE = "split";
    private static final double TWO_TO_52 = 0x1p52;

    /**
     * @param valSize      the fraction of rows for validation ({@code val_size}), in [0, 1)
     * @param evalDatasets datasets whose rows are all validation ({@code eval_dataset})
     */
    public record Options(double valSize, java.util.List<String> evalDatasets) implements Serializable {
        public Options(double valSize) {
            this(valSize, java.util.List.of());
        }

        public Options {
            evalDatasets = java.util.List.copyOf(evalDatasets);
            if (!(valSize >= 0 && valSize < 1)) {
                throw new IllegalArgumentException("val_size is " + valSize + ": use a fraction in [0, 1), e.g. 0.1"
                        + " (a count of rows cannot be held stable when data is added)");
            }
        }
    }

    private StableSplit() {
    }

    public static StageResult apply(Dataset<Row> in, Options options) {
        Column u = conv(substring(sha2(col(PrepRows.ID).cast(DataTypes.BinaryType), 256), 1, 13), 16, 10)
                .cast(DataTypes.DoubleType).divide(lit(TWO_TO_52));
        Column evaluationOnly = options.evalDatasets().isEmpty() ? lit(false)
                : col(PrepRows.DATASET).isin(options.evalDatasets().toArray());
        Column split = when(evaluationOnly, lit(PrepRows.SPLIT_VALIDATION))
                .when(col(PrepRows.SPLIT).isNotNull(), col(PrepRows.SPLIT))
                .when(u.lt(lit(options.valSize())), lit(PrepRows.SPLIT_VALIDATION))
                .otherwise(lit(PrepRows.SPLIT_TRAIN));
        Dataset<Row> kept = in.withColumn(PrepRows.SPLIT, split).select(columns());
        Dataset<Row> rejected = in.sparkSession().createDataFrame(java.util.List.of(), PrepRows.REJECTED);
        return new StageResult(STAGE, kept, rejected);
    }

    private static Column[] columns() {
        String[] names = PrepRows.PREPARED.fieldNames();
        Column[] out = new Column[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = col(names[i]);
        }
        return out;
    }
}
