package dev.sparktune.prep;

import static org.apache.spark.sql.functions.ceil;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.conv;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.round;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.substring;
import static org.apache.spark.sql.functions.when;

import dev.sparktune.dedup.DedupStage;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import java.io.Serializable;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.types.DataTypes;

/**
 * The split stage: each row's {@code split} becomes {@code validation}, {@code test} or {@code train}, stratified
 * and stable.
 *
 * <p><b>Stratified</b>: rows are split within each group of one training task ({@link PrepRows#task}) and one
 * {@code label} (rows without a label, SFT and text, form one group per task). In a group of n rows the rows are
 * ranked by a hash of their content ({@link DedupStage#normalisedContent}; the first 13 hex digits, 52 bits, of its
 * SHA-256 in UTF-8, ties by id); the ranks below ceil(n x {@code val_size}) are validation, the ranks below
 * ceil(n x ({@code val_size} + {@code test_size})) are test, the rest train. So each split holds its share of every
 * label, exact up to rounding up, and a small class gets a held-out row as soon as its share is above zero (a class
 * of one row with {@code val_size} above zero has it in validation, none in training). The products are rounded to
 * 6 decimals before ceil, so that 10 x (0.1 + 0.2) counts as 3, not 4.
 *
 * <p><b>One content, one split</b>: the tasks of a run share the model, so a text one task trains on must not be
 * another task's test row. Ranking by content puts a text at the same place in every group that holds it; where the
 * groups' boundaries still differ (one task's "ham" is another's "easy_ham" and "hard_ham"), every row of that
 * content takes the most held-out split any of them got (test, then validation, then train). A group can so hold
 * a few rows more than its share out. Within one task this also keeps duplicates (with dedup off) together.
 *
 * <p><b>Stable</b>: the same rows are split the same way on every run, whatever their partitioning; a larger
 * {@code val_size} never takes a row out of validation, and a larger {@code test_size} alone only moves rows from
 * train to test (for a text several tasks hold, "out of validation" can mean into test, the rule below). But a row's split depends on the hashes of the other rows of its group: when rows are added to or
 * removed from a group, its boundaries move and the rows whose hashes lie near them can change split (a few rows
 * per group; under the former unstratified split, which compared each row's own hash with {@code val_size}, no row
 * ever moved). A group's rows are ranked in one task, so one very large group is sorted on one executor.
 *
 * <p>It runs before augmentation so no augmented copy of a held-out row reaches training. Rows that already carry a
 * split (a dataset with its own validation files) keep it and take no part in the ranking, and every row of an
 * evaluation-only dataset ({@code data.eval_dataset}) is validation. Nothing is rejected.
 */
public final class StableSplit {
    public static final String STAGE = "split";
    private static final double TWO_TO_52 = 0x1p52;
    private static final String GROUP_SIZE = "_split_group_size";
    private static final String RANK = "_split_rank";
    private static final String ASSIGNED = "_split_assigned";
    private static final String CONTENT_HASH = "_split_content_hash";
    /** How far out of training a row's content is held: 0 train, 1 validation, 2 test; a content takes its maximum. */
    private static final String HELD = "_split_held";
    private static final int HELD_NOT = 0;
    private static final int HELD_VALIDATION = 1;
    private static final int HELD_TEST = 2;

    /**
     * @param valSize      the fraction of each group for validation ({@code val_size}), in [0, 1)
     * @param testSize     the fraction of each group for testing ({@code test_size}), in [0, 1 - valSize)
     * @param evalDatasets datasets whose rows are all validation ({@code eval_dataset})
     * @param tasks        dataset name to training task (the registry's {@code task:} keys); unlisted datasets are
     *                     their own task
     */
    public record Options(double valSize, double testSize, List<String> evalDatasets, Map<String, String> tasks)
            implements Serializable {
        public Options(double valSize) {
            this(valSize, 0.0, List.of(), Map.of());
        }

        public Options {
            evalDatasets = List.copyOf(evalDatasets);
            tasks = Map.copyOf(tasks);
            if (!(valSize >= 0 && valSize < 1)) {
                throw new IllegalArgumentException("val_size is " + valSize + ": use a fraction in [0, 1), e.g. 0.1"
                        + " (a count of rows cannot be held stable when data is added)");
            }
            if (!(testSize >= 0 && testSize < 1)) {
                throw new IllegalArgumentException("test_size is " + testSize + ": use a fraction in [0, 1), e.g. 0.1");
            }
            if (valSize + testSize >= 1) {
                throw new IllegalArgumentException("val_size (" + valSize + ") + test_size (" + testSize + ") is not"
                        + " below 1: no row would be left for training; lower one of them");
            }
        }
    }

    private StableSplit() {
    }

    public static StageResult apply(Dataset<Row> in, Options options) {
        Column evaluationOnly = options.evalDatasets().isEmpty() ? lit(false)
                : col(PrepRows.DATASET).isin(options.evalDatasets().toArray());
        Column given = when(evaluationOnly, lit(PrepRows.SPLIT_VALIDATION))
                .when(col(PrepRows.SPLIT).isNotNull(), col(PrepRows.SPLIT));
        // rows with a given split are ranked apart from the others (the third key), so they take no share
        WindowSpec group = Window.partitionBy(PrepRows.task(options.tasks()), col(PrepRows.LABEL), given.isNull());
        Column u = conv(substring(col(CONTENT_HASH), 1, 13), 16, 10).cast(DataTypes.DoubleType)
                .divide(lit(TWO_TO_52));
        Column n = col(GROUP_SIZE);
        Column ranked = when(col(RANK).lt(quota(n, options.valSize())), lit(HELD_VALIDATION))
                .when(col(RANK).lt(quota(n, options.valSize() + options.testSize())), lit(HELD_TEST))
                .otherwise(lit(HELD_NOT));
        Column givenHeld = when(col(ASSIGNED).equalTo(PrepRows.SPLIT_TEST), lit(HELD_TEST))
                .when(col(ASSIGNED).equalTo(PrepRows.SPLIT_VALIDATION), lit(HELD_VALIDATION))
                .otherwise(lit(HELD_NOT));
        Column heldOut = max(col(HELD)).over(Window.partitionBy(CONTENT_HASH));
        Column split = when(col(ASSIGNED).isNotNull(), col(ASSIGNED))
                .when(heldOut.equalTo(HELD_TEST), lit(PrepRows.SPLIT_TEST))
                .when(heldOut.equalTo(HELD_VALIDATION), lit(PrepRows.SPLIT_VALIDATION))
                .otherwise(lit(PrepRows.SPLIT_TRAIN));
        Dataset<Row> kept = in.withColumn(ASSIGNED, given)
                .withColumn(CONTENT_HASH, sha2(DedupStage.normalisedContent(), 256))
                .withColumn(GROUP_SIZE, count(lit(1)).over(group))
                .withColumn(RANK, row_number().over(group.orderBy(u, col(PrepRows.ID))).minus(1))
                .withColumn(HELD, when(col(ASSIGNED).isNotNull(), givenHeld).otherwise(ranked))
                .withColumn(PrepRows.SPLIT, split)
                .select(columns());
        Dataset<Row> rejected = in.sparkSession().createDataFrame(List.of(), PrepRows.REJECTED);
        return new StageResult(STAGE, kept, rejected);
    }

    /** ceil(n x share), the product rounded to 6 decimals first so that float error in a sum of shares is not a row. */
    private static Column quota(Column n, double share) {
        return ceil(round(n.multiply(lit(share)), 6));
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
