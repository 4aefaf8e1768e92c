package dev.sparktune.augment;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.to_json;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.sparktune.io.HadoopConf;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * The augment stage: prepared rows in ({@link PrepRows#PREPARED}), the same rows plus augmented copies of training
 * rows out. Originals always pass through unchanged; a copy gets a new id (a hash of parent id, method and copy
 * number), {@code parent_id}, {@code aug_method} and split {@code train}. Only {@code text} and user turns are
 * rewritten. A translation server that is down or slow never fails the stage: its rows pass through and are
 * counted as {@code translator_unavailable}. A row whose augmentation throws is rejected (stage {@code augment},
 * with the reason) and no copy of it is made; the others go on.
 *
 * <p>The kept rows are persisted ({@code MEMORY_AND_DISK}) before counting, so the counts and whatever the caller
 * writes are the same rows even if the server changes its mind in between; call {@link AugmentResult#release()}
 * after writing.
 */
public final class AugmentStage {
    public static final String NAME = "augment";

    private final AugmentOptions options;

    public AugmentStage(AugmentOptions options) {
        this.options = options;
    }

    public AugmentResult apply(Dataset<Row> prepared) {
        List<String> columns = Arrays.asList(prepared.columns());
        List<String> missing = new ArrayList<>();
        for (String name : PrepRows.PREPARED.fieldNames()) {
            if (!columns.contains(name)) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the augment stage needs prepared rows; the input lacks the columns "
                    + missing + " (it has " + columns + ")");
        }
        SparkSession spark = prepared.sparkSession();
        Column[] select = Arrays.stream(PrepRows.PREPARED.fieldNames()).map(c -> col(c)).toArray(Column[]::new);
        HadoopConf conf = new HadoopConf(spark.sparkContext().hadoopConfiguration());
        Dataset<Row> all = prepared.select(select)
                .mapPartitions(new RowAugmenter(options, conf), Encoders.row(RowAugmenter.SCHEMA))
                .persist(StorageLevel.MEMORY_AND_DISK());

        Column original = col(RowAugmenter.OUTCOMES).isNotNull();
        Column failed = col(RowAugmenter.REASON).isNotNull();
        Row totals = all.agg(sum(when(failed, 0).otherwise(1)),
                sum(when(original.or(failed), 1).otherwise(0)),
                sum(when(original.and(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TRAIN)), 1).otherwise(0)),
                sum(when(failed, 1).otherwise(0))).first();
        Map<String, Long> augmented = new HashMap<>();
        Map<String, Map<String, Long>> unaugmented = new HashMap<>();
        for (Row r : all.select(explode(col(RowAugmenter.OUTCOMES)).as("o")).groupBy("o").count().collectAsList()) {
            String[] methodResult = r.getString(0).split(":", 2);
            long n = r.getLong(1);
            if (RowAugmenter.AUGMENTED.equals(methodResult[1])) {
                augmented.put(methodResult[0], n);
            } else {
                unaugmented.computeIfAbsent(methodResult[0], m -> new HashMap<>()).put(methodResult[1], n);
            }
        }
        AugmentCounts counts = new AugmentCounts(longOrZero(totals, 1), longOrZero(totals, 2), longOrZero(totals, 0),
                longOrZero(totals, 3), augmented, unaugmented);
        Dataset<Row> kept = all.filter(not(failed)).drop(RowAugmenter.OUTCOMES, RowAugmenter.REASON);
        Dataset<Row> rejected = all.filter(failed).select(lit(NAME).as(PrepRows.STAGE),
                col(RowAugmenter.REASON).as(PrepRows.REASON), col(PrepRows.DATASET), col(PrepRows.ID).as(PrepRows.SOURCE),
                to_json(struct(select)).as(PrepRows.RECORD));
        return new AugmentResult(new StageResult(NAME, kept, rejected), counts, all);
    }

    private static long longOrZero(Row row, int i) {
        return row.isNullAt(i) ? 0 : row.getLong(i);
    }
}
