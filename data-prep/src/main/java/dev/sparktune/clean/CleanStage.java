package dev.sparktune.clean;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import dev.sparktune.rows.StageResult;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The clean stage: Unicode NFKC, HTML and MIME stripping, control characters, whitespace, PII masking on
 * {@code text}, {@code system} and every message's {@code content}, then length and language filters.
 * Rows that end up empty, too short or long, or in a language not kept are rejected with stage {@code clean};
 * {@code in = kept + rejected}.
 *
 * <p>The work runs once per row in a single pass; {@code kept} and {@code rejected} are two filters of it, so a
 * caller that writes both should persist the input or the results to avoid cleaning twice.
 */
public final class CleanStage {
    public static final String STAGE = "clean";
    private static final String REASON_COLUMN = "_clean_reason";
    private static final String RECORD_COLUMN = "_clean_record";

    private CleanStage() {
    }

    public static StageResult apply(Dataset<Row> in, CleanOptions options) {
        return split(cleaned(in, options));
    }

    /**
     * The single cleaning pass, every row with its reason (null when kept); persist it and hand it to
     * {@link #split(Dataset)} when both kept and rejected rows are read, so each row is cleaned once.
     */
    public static Dataset<Row> cleaned(Dataset<Row> in, CleanOptions options) {
        return cleaned(in, new RowCleaner(options));
    }

    /** {@link #cleaned(Dataset, CleanOptions)} with a given cleaner (tests hand in one that fails). */
    static Dataset<Row> cleaned(Dataset<Row> in, RowCleaner cleaner) {
        StructType outSchema = PrepRows.PREPARED
                .add(REASON_COLUMN, DataTypes.StringType, true)
                .add(RECORD_COLUMN, DataTypes.StringType, true);
        return in.select(preparedColumns()).mapPartitions(new CleanPartition(cleaner), Encoders.row(outSchema));
    }

    /** Kept and rejected rows of a {@link #cleaned(Dataset, CleanOptions)} pass. */
    public static StageResult split(Dataset<Row> cleaned) {
        Column[] prepared = preparedColumns();
        Dataset<Row> kept = cleaned.filter(col(REASON_COLUMN).isNull()).select(prepared);
        Dataset<Row> rejected = cleaned.filter(col(REASON_COLUMN).isNotNull()).select(
                lit(STAGE).as(PrepRows.STAGE),
                col(REASON_COLUMN).as(PrepRows.REASON),
                col(PrepRows.DATASET),
                col(PrepRows.ID).as(PrepRows.SOURCE),
                col(RECORD_COLUMN).as(PrepRows.RECORD));
        return new StageResult(STAGE, kept, rejected);
    }

    static Column[] preparedColumns() {
        String[] names = PrepRows.PREPARED.fieldNames();
        Column[] out = new Column[names.length];
        for (int i = 0; i < names.length; i++) {
            out[i] = col(names[i]);
        }
        return out;
    }

    /** Cleans a partition's rows; a rejected row keeps its id and dataset and carries its original as JSON. */
    static final class CleanPartition implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final RowCleaner cleaner;

        CleanPartition(RowCleaner cleaner) {
            this.cleaner = cleaner;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return rows.hasNext();
                }

                @Override
                public Row next() {
                    Row in = rows.next();
                    RowCleaner.Outcome outcome;
                    try {
                        outcome = cleaner.clean(in);
                    } catch (Throwable e) {
                        // a row no step can handle is a rejected row with the cause, not a failed job (issue 19:
                        // a StackOverflowError too); the JVM's own errors and task kills pass
                        outcome = new RowCleaner.Outcome(null, RecordFailure.reason("cleaning", e));
                    }
                    List<Object> values = new ArrayList<>(PrepRows.PREPARED.size() + 2);
                    if (outcome.reason() == null) {
                        for (int i = 0; i < outcome.row().length(); i++) {
                            values.add(outcome.row().get(i));
                        }
                        values.add(null);
                        values.add(null);
                    } else {
                        for (int i = 0; i < in.length(); i++) {
                            values.add(in.get(i));
                        }
                        values.add(outcome.reason());
                        values.add(in.json());
                    }
                    return RowFactory.create(values.toArray());
                }
            };
        }
    }
}
