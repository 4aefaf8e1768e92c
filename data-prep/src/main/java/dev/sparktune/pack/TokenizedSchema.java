package dev.sparktune.pack;

import dev.sparktune.io.TokenizedParquet;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The row shapes of this stage: the tokenized Parquet the trainer reads (Spark's form of {@link TokenizedParquet}'s
 * columns, whose names it takes from there; README "Tokenized data"), and the intermediate one row per sample (or rejected row) that tokenizing produces
 * before packing.
 */
final class TokenizedSchema {
    static final String INPUT_IDS = TokenizedParquet.INPUT_IDS;
    static final String LABELS = TokenizedParquet.LABELS;
    static final String SEGMENT_IDS = TokenizedParquet.SEGMENT_IDS;
    static final String LABEL = TokenizedParquet.LABEL;
    static final String TASK = TokenizedParquet.TASK;

    static final String ID = "id";
    static final String DATASET = "dataset";
    static final String SPLIT = "split";
    static final String PIECE = "piece";
    static final String LENGTH = "length";
    static final String REASON = "reason";
    static final String RECORD = "record";

    private static final ArrayType IDS = DataTypes.createArrayType(DataTypes.LongType, false);

    /** What the trainer reads. */
    static final StructType TOKENIZED = new StructType(new StructField[] {
            new StructField(INPUT_IDS, IDS, false, Metadata.empty()),
            new StructField(LABELS, IDS, true, Metadata.empty()),
            new StructField(SEGMENT_IDS, IDS, true, Metadata.empty()),
            new StructField(LABEL, DataTypes.LongType, true, Metadata.empty()),
            new StructField(TASK, DataTypes.StringType, true, Metadata.empty())});

    /**
     * One sample of one prepared row ({@code piece} numbers a text row's pieces, 0 otherwise), or, with
     * {@code reason} set and no ids, a row that could not be tokenized ({@code record} holds it as JSON).
     * Causal samples have {@code labels}; classification samples have {@code label}. {@code split} is the prepared
     * row's ({@code train}, {@code validation}, or null for input that was never split).
     */
    static final StructType ENCODED = new StructType(new StructField[] {
            new StructField(ID, DataTypes.StringType, true, Metadata.empty()),
            new StructField(DATASET, DataTypes.StringType, true, Metadata.empty()),
            new StructField(SPLIT, DataTypes.StringType, true, Metadata.empty()),
            new StructField(TASK, DataTypes.StringType, true, Metadata.empty()),
            new StructField(PIECE, DataTypes.IntegerType, false, Metadata.empty()),
            new StructField(LENGTH, DataTypes.IntegerType, false, Metadata.empty()),
            new StructField(INPUT_IDS, IDS, true, Metadata.empty()),
            new StructField(LABELS, IDS, true, Metadata.empty()),
            new StructField(LABEL, DataTypes.LongType, true, Metadata.empty()),
            new StructField(REASON, DataTypes.StringType, true, Metadata.empty()),
            new StructField(RECORD, DataTypes.StringType, true, Metadata.empty())});

    private TokenizedSchema() {
    }
}
