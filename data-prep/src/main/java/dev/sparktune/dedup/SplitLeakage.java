package dev.sparktune.dedup;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.posexplode;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.udf;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.storage.StorageLevel;

/**
 * Whether the test split leaked into training: how many test rows have an exact duplicate, or else a
 * near-duplicate, among the training rows (augmented copies included), with the dedup stage's notion of both:
 * the same normalised content ({@link DedupStage#normalisedContent}: format, system, messages and text, ignoring
 * case and whitespace, not the label), or a Jaccard similarity of character shingles at or above
 * {@link DedupOptions#threshold}, found by MinHash LSH candidates ({@link MinHasher}, {@link LshBands}) and
 * verified with the exact similarity. Test rows are compared with the training rows of every task, not only their
 * own: the tasks of a run share the model, so a test text that another task trains on has been seen (dedup, which
 * compares within one task, lets two tasks hold the same text under their own labels). It reports; it changes no
 * row.
 */
public final class SplitLeakage {
    private static final String CONTENT = "_leak_content";
    private static final String HASH = "_leak_hash";

    /**
     * @param testRows  rows of the test split
     * @param trainRows rows of the train split, augmented copies included
     * @param exact     test rows whose normalised content equals a training row's
     * @param near      other test rows with a training row at or above the Jaccard threshold
     */
    public record Counts(long testRows, long trainRows, long exact, long near) {
        public long leaked() {
            return exact + near;
        }

        /** For {@code _report.json}: {@code test_rows}, {@code train_rows}, {@code exact}, {@code near}. */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("test_rows", testRows);
            m.put("train_rows", trainRows);
            m.put("exact", exact);
            m.put("near", near);
            return m;
        }
    }

    private SplitLeakage() {
    }

    /**
     * @param rows    prepared rows after the split (and augmentation)
     * @param options the dedup stage's threshold, signature length and shingle size (only those are used)
     */
    public static Counts check(Dataset<Row> rows, DedupOptions options) {
        Dataset<Row> content = rows.select(col(PrepRows.ID), col(PrepRows.SPLIT), DedupStage.normalisedContent().as(CONTENT))
                .withColumn(HASH, sha2(col(CONTENT), 256))
                .persist(StorageLevel.MEMORY_AND_DISK());
        try {
            Dataset<Row> test = content.filter(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TEST));
            Dataset<Row> train = content.filter(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TRAIN));
            long testRows = test.count();
            long trainRows = train.count();
            if (testRows == 0 || trainRows == 0) {
                return new Counts(testRows, trainRows, 0, 0);
            }
            Dataset<Row> exact = test.join(train.select(HASH).distinct(), new String[] {HASH},
                    "left_semi").select(col(PrepRows.ID).as("e_id"));
            long exactRows = exact.count();
            Dataset<Row> rest = test.join(exact, col(PrepRows.ID).equalTo(col("e_id")), "left_anti");
            return new Counts(testRows, trainRows, exactRows, near(rest, train, options));
        } finally {
            content.unpersist();
        }
    }

    /** Test rows with a training row whose Jaccard similarity is at or above the threshold. */
    private static long near(Dataset<Row> test, Dataset<Row> train, DedupOptions options) {
        MinHasher hasher = new MinHasher(options.numPerm(), options.shingleSize(),
                LshBands.forThreshold(options.threshold(), options.numPerm()));
        // a text that cannot be shingled has no bands and so no candidates (the dedup stage rejects such rows)
        UserDefinedFunction bands = udf((UDF1<String, long[]>) text -> {
            try {
                return hasher.bandHashes(text);
            } catch (Throwable e) {
                RecordFailure.reason("shingling", e); // rethrows the JVM's own errors
                return new long[0];
            }
        }, DataTypes.createArrayType(DataTypes.LongType, false));
        UserDefinedFunction jaccard = udf((UDF2<String, String, Double>) (a, b) -> {
            try {
                return hasher.jaccard(a, b);
            } catch (Throwable e) {
                RecordFailure.reason("shingling", e);
                return null;
            }
        }, DataTypes.DoubleType);

        Dataset<Row> testBuckets = test.select(col(PrepRows.ID).as("t_id"),
                posexplode(bands.apply(col(CONTENT))).as(new String[] {"band", "bucket"}));
        Dataset<Row> trainBuckets = train.select(col(PrepRows.ID).as("r_id"),
                posexplode(bands.apply(col(CONTENT))).as(new String[] {"band", "bucket"}));
        Dataset<Row> candidates = testBuckets.join(trainBuckets, new String[] {"band", "bucket"})
                .select("t_id", "r_id").distinct();
        Dataset<Row> testText = test.select(col(PrepRows.ID).as("t_id"), col(CONTENT).as("t_content"));
        Dataset<Row> trainText = train.select(col(PrepRows.ID).as("r_id"), col(CONTENT).as("r_content"));
        return candidates.join(testText, "t_id").join(trainText, "r_id")
                .filter(jaccard.apply(col("t_content"), col("r_content")).geq(options.threshold()))
                .select("t_id").distinct().count();
    }
}
