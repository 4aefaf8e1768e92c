package dev.sparktune.ml;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Tokenized rows for a causal LM of vocabulary 61, in the columns {@code sparktune prep} writes: plain rows,
 * SFT rows whose prompt labels are -100, packed rows with segment ids, and rows with nothing to score.
 * Each row is {input_ids, labels or null, segment_ids or null}.
 */
final class TokenRows {
    static final StructType SCHEMA = new StructType().add("id", DataTypes.IntegerType)
            .add("input_ids", DataTypes.createArrayType(DataTypes.LongType))
            .add("labels", DataTypes.createArrayType(DataTypes.LongType))
            .add("segment_ids", DataTypes.createArrayType(DataTypes.LongType));
    /** Rows of {@link #mixed} whose loss is null: one token, every label ignored, no input. */
    static final int UNSCORED = 3;

    private TokenRows() {
    }

    static List<long[][]> mixed(Random random) {
        List<long[][]> rows = new ArrayList<>();
        for (int i = 0; i < 14; i++) {
            rows.add(new long[][] {randomIds(2 + random.nextInt(19), random), null, null});
        }
        for (int i = 0; i < 6; i++) {
            long[] ids = randomIds(4 + random.nextInt(14), random);
            long[] labels = ids.clone();
            Arrays.fill(labels, 0, 1 + random.nextInt(ids.length - 2), -100);
            rows.add(new long[][] {ids, labels, null});
        }
        rows.add(new long[][] {randomIds(1, random), null, null});
        rows.add(new long[][] {randomIds(5, random), new long[] {-100, -100, -100, -100, -100}, null});
        long[] packed = randomIds(12, random);
        rows.add(new long[][] {packed, null, {1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 0, 0}});
        long[] packedLabels = packed.clone();
        packedLabels[5] = -100;
        rows.add(new long[][] {packed, packedLabels, {1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 0}});
        rows.add(new long[][] {null, null, null});
        return rows;
    }

    /** The rows as a DataFrame of {@link #SCHEMA}, id = position in the list. */
    static Dataset<Row> frame(SparkSession spark, List<long[][]> rows) {
        List<Row> input = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            input.add(RowFactory.create(i, boxed(rows.get(i)[0]), boxed(rows.get(i)[1]), boxed(rows.get(i)[2])));
        }
        return spark.createDataFrame(input, SCHEMA);
    }

    private static long[] randomIds(int length, Random random) {
        long[] ids = new long[length];
        for (int i = 0; i < length; i++) {
            ids[i] = random.nextInt(61);
        }
        return ids;
    }

    private static Long[] boxed(long[] values) {
        return values == null ? null : Arrays.stream(values).boxed().toArray(Long[]::new);
    }
}
