package dev.sparktune.dedup;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.format_number;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.lower;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.max_by;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.posexplode;
import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.to_json;
import static org.apache.spark.sql.functions.transform;
import static org.apache.spark.sql.functions.trim;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.when;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import dev.sparktune.rows.StageResult;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The dedup stage: exact duplicates by a SHA-256 of the normalised content, then near-duplicates by MinHash LSH
 * over character shingles with a Jaccard threshold. Of each group the row with the smallest {@code id} (Spark's
 * string order) is kept; every other row is rejected with stage {@code dedup} and a reason naming the kept id.
 * {@code in = kept + rejected}.
 *
 * <p>Rows are only ever compared within one training task ({@link PrepRows#task}): the same text may serve two
 * tasks under different labels, and that is not a duplicate.
 *
 * <p><b>Content</b> is {@code format}, {@code system}, the messages (role and content, in order) and {@code text},
 * lower-cased with whitespace runs collapsed. {@code label} is <i>not</i> part of it: the same text with two
 * labels is one example annotated twice, and keeping both would train on a contradiction; the reason then says
 * the labels differ so the annotation can be checked.
 *
 * <p><b>Near-duplicates</b>: each row's signature is cut into LSH bands; rows sharing a band bucket are joined to
 * the bucket's smallest id (a star, so a bucket of m rows gives m - 1 candidate pairs, not m^2), each candidate
 * pair is verified with the exact Jaccard similarity of the two shingle sets, and the verified pairs are grouped
 * into connected components by min-label propagation. Everything stays distributed: no collect, no cross join.
 * Because label propagation needs actions to know when it is done, {@link #apply} runs the near-duplicate search
 * as Spark jobs right away (the verified pairs are checkpointed on the executors); {@code kept} and
 * {@code rejected} are then ordinary lazy datasets.
 */
public final class DedupStage {
    public static final String STAGE = "dedup";
    private static final String CONTENT = "_dedup_content";
    private static final String TASK = "_dedup_task";
    private static final String HASH = "_dedup_hash";
    private static final String RANK = "_dedup_rank";
    private static final String KEPT_ID = "_dedup_kept_id";
    private static final String KEPT_LABEL = "_dedup_kept_label";
    private static final StructType BANDS_OR_FAILURE = new StructType()
            .add("bands", DataTypes.createArrayType(DataTypes.LongType, false), true)
            .add("failure", DataTypes.StringType, true);

    private DedupStage() {
    }

    /** @param tasks dataset name to training task (the registry's {@code task:} keys); unlisted datasets are their own task */
    public static StageResult apply(Dataset<Row> in, DedupOptions options, Map<String, String> tasks) {
        Column[] prepared = preparedColumns();
        Dataset<Row> rows = in.select(prepared).withColumn(CONTENT, normalisedContent())
                .withColumn(TASK, PrepRows.task(tasks));
        Dataset<Row> survivors = rows;
        Dataset<Row> rejected = null;
        if (options.exact()) {
            WindowSpec sameContent = Window.partitionBy(TASK, HASH).orderBy(PrepRows.ID);
            Dataset<Row> ranked = rows.withColumn(HASH, sha2(col(CONTENT), 256))
                    .withColumn(RANK, row_number().over(sameContent))
                    .withColumn(KEPT_ID, first(PrepRows.ID).over(sameContent))
                    .withColumn(KEPT_LABEL, first(PrepRows.LABEL).over(sameContent));
            survivors = ranked.filter(col(RANK).equalTo(1)).select(columns(rows.columns()));
            Column labelsDiffer = col(KEPT_LABEL).isNotNull().and(col(PrepRows.LABEL).isNotNull())
                    .and(col(KEPT_LABEL).notEqual(col(PrepRows.LABEL)));
            Column reason = concat(lit("exact duplicate of "), col(KEPT_ID),
                    lit(" (same normalised content: format, system, messages and text, ignoring case and"
                            + " whitespace)"),
                    when(labelsDiffer, concat(lit("; its label '"), col(PrepRows.LABEL),
                            lit("' differs from the kept row's '"), col(KEPT_LABEL),
                            lit("': check the annotation"))).otherwise(lit("")));
            rejected = rejectedRows(ranked.filter(col(RANK).gt(1)), reason);
        }
        if (options.near()) {
            NearDuplicates near = new NearDuplicates(options);
            Dataset<Row> hashed = near.hash(survivors.select(col(PrepRows.ID), col(TASK), col(CONTENT)));
            // a row whose shingling threw (issue 19) is rejected here and takes no part in the search
            Dataset<Row> failures = broadcast(hashed.filter(col("h_failure").isNotNull())
                    .select(col("h_id"), col("h_failure")));
            Dataset<Row> unhashable = survivors.join(failures, col(PrepRows.ID).equalTo(col("h_id")));
            Dataset<Row> hashRejected = rejectedRows(unhashable, col("h_failure"));
            rejected = rejected == null ? hashRejected : rejected.unionByName(hashRejected);
            survivors = survivors.join(failures, col(PrepRows.ID).equalTo(col("h_id")), "left_anti");
            Dataset<Row> groups = near.groups(hashed.filter(col("h_failure").isNull()),
                    survivors.select(col(PrepRows.ID), col(CONTENT)));
            Dataset<Row> labelled = survivors.join(groups, survivors.col(PrepRows.ID).equalTo(groups.col("g_id")),
                    "left");
            Column isDuplicate = col("g_kept").isNotNull().and(col("g_kept").notEqual(col(PrepRows.ID)));
            Column similarity = format_number(col("g_sim"), 3);
            Column reason = concat(lit("near-duplicate of "), col("g_kept"),
                    when(col("g_partner").equalTo(col("g_kept")),
                            concat(lit(": Jaccard similarity "), similarity))
                            .otherwise(concat(lit(" (same group): Jaccard similarity "), similarity,
                                    lit(" with "), col("g_partner"))),
                    lit(similarityNote(options)));
            Dataset<Row> nearRejected = rejectedRows(labelled.filter(isDuplicate), reason);
            rejected = rejected == null ? nearRejected : rejected.unionByName(nearRejected);
            survivors = labelled.filter(not(isDuplicate));
        }
        Dataset<Row> kept = survivors.select(prepared);
        if (rejected == null) {
            rejected = rejectedRows(rows.filter(lit(false)), lit(""));
        }
        return new StageResult(STAGE, kept, rejected);
    }

    private static String similarityNote(DedupOptions options) {
        return String.format(Locale.ROOT, " of %d-character shingles (threshold %s)", options.shingleSize(),
                options.threshold());
    }

    /**
     * A row's content as dedup, the split and the leakage check compare it: format, system, messages and text joined
     * by unit separators, lower-cased, whitespace runs collapsed (not the id, dataset or label).
     */
    public static Column normalisedContent() {
        Column messages = concat_ws("\u001e", transform(col(PrepRows.MESSAGES),
                m -> concat(m.getField(PrepRows.ROLE), lit("\u001d"), m.getField(PrepRows.CONTENT))));
        Column joined = concat_ws("\u001f", col(PrepRows.FORMAT), coalesce(col(PrepRows.SYSTEM), lit("")),
                coalesce(messages, lit("")), coalesce(col(PrepRows.TEXT), lit("")));
        return lower(trim(regexp_replace(joined, "\\s+", " ")));
    }

    private static Dataset<Row> rejectedRows(Dataset<Row> rows, Column reason) {
        return rows.select(
                lit(STAGE).as(PrepRows.STAGE),
                reason.as(PrepRows.REASON),
                col(PrepRows.DATASET),
                col(PrepRows.ID).as(PrepRows.SOURCE),
                to_json(struct(preparedColumns())).as(PrepRows.RECORD));
    }

    private static Column[] preparedColumns() {
        return columns(PrepRows.PREPARED.fieldNames());
    }

    private static Column[] columns(String[] names) {
        Column[] out = new Column[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = col(names[i]);
        }
        return out;
    }

    /** MinHash LSH candidates, exact-Jaccard verification and grouping by connected components. */
    private static final class NearDuplicates {
        private final DedupOptions options;
        private final MinHasher hasher;

        NearDuplicates(DedupOptions options) {
            this.options = options;
            this.hasher = new MinHasher(options.numPerm(), options.shingleSize(),
                    LshBands.forThreshold(options.threshold(), options.numPerm()));
        }

        /**
         * Each row's LSH band hashes ({@code h_id}, {@code TASK}, {@code h_bands}), or, when hashing its content
         * threw anything {@link RecordFailure#isRecoverable recoverable}, the reason in {@code h_failure}. Computed
         * once (a local checkpoint): the failures and the search both read it.
         */
        Dataset<Row> hash(Dataset<Row> idTaskContent) {
            MinHasher h = hasher;
            UserDefinedFunction bands = udf((UDF1<String, Row>) content -> {
                try {
                    return RowFactory.create(h.bandHashes(content), null);
                } catch (Throwable e) {
                    return RowFactory.create(null, RecordFailure.reason("shingling for near-duplicate search", e));
                }
            }, BANDS_OR_FAILURE);
            return idTaskContent.select(col(PrepRows.ID).as("h_id"), col(TASK), bands.apply(col(CONTENT)).as("h"))
                    .select(col("h_id"), col(TASK), col("h.bands").as("h_bands"), col("h.failure").as("h_failure"))
                    .localCheckpoint();
        }

        /**
         * For every row with a verified near-duplicate: {@code g_id}, the group's smallest id {@code g_kept}, its
         * most similar verified partner {@code g_partner} and their similarity {@code g_sim}.
         *
         * @param hashed    rows of {@link #hash} that hashed
         * @param idContent the same rows' ids and contents
         */
        Dataset<Row> groups(Dataset<Row> hashed, Dataset<Row> idContent) {
            MinHasher h = hasher;
            // null, and so no pair, when shingling throws here though it did not in hash (it will not)
            UserDefinedFunction jaccard = udf((UDF2<String, String, Double>) (x, y) -> {
                try {
                    return h.jaccard(x, y);
                } catch (Throwable e) {
                    RecordFailure.reason("shingling", e); // rethrows the JVM's own errors
                    return null;
                }
            }, DataTypes.DoubleType);

            Dataset<Row> buckets = hashed.select(col("h_id").as("b_id"), col(TASK),
                    posexplode(col("h_bands")).as(new String[] {"band", "bucket"}));
            Dataset<Row> roots = buckets.groupBy(TASK, "band", "bucket")
                    .agg(min("b_id").as("root"), count("*").as("n"))
                    .filter(col("n").gt(1));
            Dataset<Row> candidates = buckets.join(roots, new String[] {TASK, "band", "bucket"}).filter(
                    col("b_id").notEqual(col("root"))).select(col("root").as("src"), col("b_id").as("dst"))
                    .distinct();
            Dataset<Row> a = idContent.select(col(PrepRows.ID).as("a_id"), col(CONTENT).as("a_content"));
            Dataset<Row> b = idContent.select(col(PrepRows.ID).as("c_id"), col(CONTENT).as("c_content"));
            Dataset<Row> verified = candidates
                    .join(a, col("src").equalTo(col("a_id")))
                    .join(b, col("dst").equalTo(col("c_id")))
                    .select(col("src"), col("dst"), jaccard.apply(col("a_content"), col("c_content")).as("sim"))
                    .filter(col("sim").geq(options.threshold()))
                    .localCheckpoint(); // computed once: both edge directions and every propagation round read it
            Dataset<Row> undirected = verified.select(col("src").as("v"), col("dst").as("w"), col("sim"))
                    .unionByName(verified.select(col("dst").as("v"), col("src").as("w"), col("sim")));
            Dataset<Row> labels = ConnectedComponents.minLabels(undirected, options.maxIterations());
            Dataset<Row> best = undirected.groupBy("v").agg(
                    max_by(col("w"), struct(col("sim"), col("w"))).as("g_partner"), // ties: larger id, stable
                    max(col("sim")).as("g_best_sim"));
            Dataset<Row> toKept = undirected.select(col("v").as("k_v"), col("w").as("k_w"), col("sim").as("k_sim"));
            return labels.join(best, "v")
                    .join(toKept, col("v").equalTo(col("k_v")).and(col("label").equalTo(col("k_w"))), "left")
                    .select(col("v").as("g_id"), col("label").as("g_kept"),
                            when(col("k_sim").isNotNull(), col("label")).otherwise(col("g_partner")).as("g_partner"),
                            coalesce(col("k_sim"), col("g_best_sim")).as("g_sim"));
        }
    }
}
