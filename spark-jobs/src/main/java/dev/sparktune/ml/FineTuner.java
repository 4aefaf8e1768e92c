package dev.sparktune.ml;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.max;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.training.TrainingJob;
import dev.sparktune.training.TrainingOutcome;
import dev.sparktune.training.TrainingRank;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Fine-tuning as a Spark ML {@code Estimator}: {@code fit} runs the data-parallel training job ({@link TrainingJob})
 * described by a job YAML on a DataFrame of tokenized rows, and returns a {@link FineTunedModel} over what the run
 * exported (the base model with its adapter, or the whole trained model).
 *
 * <p>The DataFrame has the columns {@code sparktune prep} writes: {@code input_ids} (array of integers), and as the
 * objective needs them {@code labels} and {@code segment_ids} (causal LM) or {@code label} (class index, for
 * {@code method.stage: cls}). {@code fit} writes them to {@code <train.output_dir>/_training_data} as Parquet on the
 * executors, in {@code 4 x world_size} files so every rank gets whole row groups of its own, and the ranks read
 * them from there: rows never pass through the driver. Each fit needs a {@code train.output_dir} of its own: one
 * that holds checkpoints of an earlier run is refused, since the job would continue that run.
 */
public final class FineTuner extends Estimator<FineTunedModel> {
    static final String DATA_FOLDER = "_training_data";
    private static final List<String> COLUMNS = List.of("input_ids", "labels", "segment_ids", "label", "task");
    private static final int FILES_PER_RANK = 4;

    private final String uid;
    private final Param<String> config;
    private final StringArrayParam overrides;

    public FineTuner() {
        this(Identifiable$.MODULE$.randomUID("fineTuner"));
    }

    public FineTuner(String uid) {
        this.uid = uid;
        config = new Param<>(this, "config", "the job YAML (sections data, model, method, train, dist, ...) as text");
        overrides = new StringArrayParam(this, "overrides", "SECTION.KEY=VALUE overrides applied to config");
        setDefault(overrides, new String[0]);
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> config() {
        return config;
    }

    public StringArrayParam overrides() {
        return overrides;
    }

    public String getConfig() {
        return $(config);
    }

    public String[] getOverrides() {
        return $(overrides);
    }

    public FineTuner setConfig(String yaml) {
        set(config, yaml);
        return this;
    }

    public FineTuner setOverrides(String... values) {
        set(overrides, values);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        requireColumn(schema, "input_ids", true);
        for (String name : List.of("labels", "segment_ids")) {
            requireColumn(schema, name, false);
        }
        if (loadConfig().job().method().stage().equals("cls")) {
            requireLabel(schema);
        }
        return schema;
    }

    @Override
    public FineTunedModel fit(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        LoadedConfig loaded = loadConfig();
        JobConfig job = loaded.job();
        Configuration hadoop = dataset.sparkSession().sparkContext().hadoopConfiguration();
        Optional<String> earlier = new TrainingCheckpoints(hadoop, job.train().outputDir(), job.train().saveTotalLimit())
                .latest();
        if (earlier.isPresent()) {
            // the training job would continue that run: a refit on new data must not quietly return the old model
            throw new IllegalArgumentException("FineTuner: train.output_dir " + job.train().outputDir() + " already holds"
                    + " checkpoints of an earlier run (" + earlier.get() + "); give each fit its own train.output_dir,"
                    + " or remove the earlier run");
        }
        String data = new Path(job.train().outputDir(), DATA_FOLDER).toString();
        Dataset<Row> rows = tokenizedColumns(dataset).repartition(FILES_PER_RANK * job.dist().worldSize());
        rows.write().mode(SaveMode.Overwrite).parquet(data);
        if (job.method().stage().equals("cls")) {
            writeLabels(rows, data, dataset);
        }
        LoadedConfig training = ConfigLoader.parse(loaded.toYaml(), loaded.source(), List.of("data.tokenized_path=" + data));
        TrainingOutcome outcome = TrainingJob.run(dataset.sparkSession(), training);
        boolean wholeModel = !outcome.export().endsWith("/adapter");
        FineTunedModel model = wholeModel ? FineTunedModel.of(outcome.export(), null)
                : FineTunedModel.of(job.model().modelNameOrPath(), outcome.export());
        return model.setParent(this);
    }

    @Override
    public FineTuner copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    private LoadedConfig loadConfig() {
        if (!isDefined(config) || getConfig() == null) {
            throw new IllegalArgumentException("FineTuner: set the job YAML with setConfig(...)");
        }
        return ConfigLoader.parse(getConfig(), "FineTuner config", Arrays.asList(getOverrides()));
    }

    /** The tokenized columns the DataFrame has, as the types the trainer reads: arrays of bigint, bigint. */
    private static Dataset<Row> tokenizedColumns(Dataset<?> dataset) {
        List<String> present = Arrays.asList(dataset.schema().fieldNames());
        List<Column> columns = new ArrayList<>();
        for (String name : COLUMNS) {
            if (!present.contains(name)) {
                continue;
            }
            DataType type = switch (name) {
                case "label" -> DataTypes.LongType;
                case "task" -> DataTypes.StringType;
                default -> DataTypes.createArrayType(DataTypes.LongType, false);
            };
            columns.add(col(name).cast(type).as(name));
        }
        return dataset.toDF().select(columns.toArray(Column[]::new));
    }

    /** {@code _labels.json} for class indexes 0..max(label): a one-row aggregate, never the rows. */
    private static void writeLabels(Dataset<Row> rows, String data, Dataset<?> dataset) {
        Row top = rows.agg(max(col("label"))).first();
        if (top.isNullAt(0)) {
            throw new IllegalArgumentException("FineTuner: method.stage is cls but every 'label' is null");
        }
        long classes = top.getLong(0) + 1;
        JsonObject id2label = new JsonObject();
        for (long i = 0; i < classes; i++) {
            id2label.addProperty(Long.toString(i), Long.toString(i));
        }
        JsonObject json = new JsonObject();
        json.add("id2label", id2label);
        Path file = new Path(data, dev.sparktune.io.LabelsFile.NAME);
        try {
            FileSystem fs = file.getFileSystem(dataset.sparkSession().sparkContext().hadoopConfiguration());
            try (FSDataOutputStream out = fs.create(file, true)) {
                out.write(new GsonBuilder().setPrettyPrinting().create().toJson(json).getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e, e);
        }
    }

    private static void requireColumn(StructType schema, String name, boolean required) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            if (required) {
                throw new IllegalArgumentException("FineTuner: the DataFrame has no '" + name + "' column (columns: "
                        + String.join(", ", schema.fieldNames()) + "); fit takes tokenized rows as `sparktune prep` writes"
                        + " them");
            }
            return;
        }
        StructField field = schema.apply(name);
        if (!(field.dataType() instanceof ArrayType array) || !isInteger(array.elementType())) {
            throw new IllegalArgumentException("FineTuner: column '" + name + "' must be an array of integers, not "
                    + field.dataType().simpleString());
        }
    }

    private static void requireLabel(StructType schema) {
        if (!Arrays.asList(schema.fieldNames()).contains("label") || !isInteger(schema.apply("label").dataType())) {
            throw new IllegalArgumentException("FineTuner: method.stage is cls, so the DataFrame needs an integer 'label'"
                    + " column holding class indexes 0, 1, ...");
        }
    }

    private static boolean isInteger(DataType type) {
        return type.equals(DataTypes.LongType) || type.equals(DataTypes.IntegerType) || type.equals(DataTypes.ShortType);
    }
}
