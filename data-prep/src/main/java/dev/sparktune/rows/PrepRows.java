package dev.sparktune.rows;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.element_at;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.map;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The two row shapes every data-prep stage passes along: the common form all input formats are read into,
 * and a rejected row with the stage and reason that stopped it.
 *
 * <p>A prepared row carries one training example in the form of its format:
 * <ul>
 *   <li>{@code alpaca} and {@code sharegpt}: {@code system} (nullable) and {@code messages}, alternating
 *       {@code user} / {@code assistant} turns (alpaca's history turns first, then instruction + input as the
 *       user turn and output as the assistant turn);</li>
 *   <li>{@code classification}: {@code text} and {@code label};</li>
 *   <li>{@code text} (continued pretraining): {@code text}.</li>
 * </ul>
 * Augmentation rewrites {@code text} and the content of {@code user} turns; assistant answers and labels are kept.
 */
public final class PrepRows {
    public static final String ID = "id";
    public static final String DATASET = "dataset";
    public static final String FORMAT = "format";
    public static final String SPLIT = "split";
    public static final String SYSTEM = "system";
    public static final String MESSAGES = "messages";
    public static final String ROLE = "role";
    public static final String CONTENT = "content";
    public static final String TEXT = "text";
    public static final String LABEL = "label";
    public static final String PARENT_ID = "parent_id";
    public static final String AUG_METHOD = "aug_method";

    public static final String FORMAT_ALPACA = "alpaca";
    public static final String FORMAT_SHAREGPT = "sharegpt";
    public static final String FORMAT_CLASSIFICATION = "classification";
    public static final String FORMAT_TEXT = "text";

    public static final String SPLIT_TRAIN = "train";
    public static final String SPLIT_VALIDATION = "validation";
    public static final String SPLIT_TEST = "test";

    public static final String ROLE_USER = "user";
    public static final String ROLE_ASSISTANT = "assistant";

    /** One turn of a conversation. */
    public static final StructType TURN = new StructType(new StructField[] {
            field(ROLE, false),
            field(CONTENT, false)});

    /**
     * A prepared row. {@code id} is stable across reruns (a hash of dataset, source file and record position, see
     * the ingest stage); {@code split} ({@code train}, {@code validation} or {@code test}) is assigned from a stable hash of {@code id}
     * before augmentation (see the split stage);
     * {@code parent_id} and {@code aug_method} are set only on augmented copies.
     */
    public static final StructType PREPARED = new StructType(new StructField[] {
            field(ID, false),
            field(DATASET, false),
            field(FORMAT, false),
            field(SPLIT, true),
            field(SYSTEM, true),
            new StructField(MESSAGES, DataTypes.createArrayType(TURN, false), true, Metadata.empty()),
            field(TEXT, true),
            field(LABEL, true),
            field(PARENT_ID, true),
            field(AUG_METHOD, true)});

    public static final String STAGE = "stage";
    public static final String REASON = "reason";
    public static final String SOURCE = "source";
    public static final String RECORD = "record";

    /**
     * A row a stage could not keep, written to {@code _rejected/}: the stage and a reason a person can act on,
     * the dataset and source file (or the prepared row's id) it came from, and the record itself as text
     * (the raw input line or file for ingest, the prepared row as JSON for later stages).
     */
    public static final StructType REJECTED = new StructType(new StructField[] {
            field(STAGE, false),
            field(REASON, false),
            field(DATASET, true),
            field(SOURCE, true),
            field(RECORD, true)});

    private PrepRows() {
    }

    /**
     * Each row's training task: its dataset's entry in {@code tasks} (dataset name to task, from the registry's
     * {@code task:} keys), else the dataset's own name.
     */
    public static Column task(Map<String, String> tasks) {
        if (tasks.isEmpty()) {
            return col(DATASET);
        }
        List<Column> pairs = new ArrayList<>();
        tasks.forEach((dataset, task) -> {
            pairs.add(lit(dataset));
            pairs.add(lit(task));
        });
        return coalesce(element_at(map(pairs.toArray(Column[]::new)), col(DATASET)), col(DATASET));
    }

    private static StructField field(String name, boolean nullable) {
        return new StructField(name, DataTypes.StringType, nullable, Metadata.empty());
    }
}
