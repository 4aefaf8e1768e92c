package dev.sparktune.ml;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.max;

import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.training.TrainingJob;
import dev.sparktune.training.TrainingOutcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fine-tuning as a Spark ML {@code Estimator}: {@code fit} runs the data-parallel training job ({@link TrainingJob})
 * described by a job YAML on a DataFrame of tokenized rows, and returns a {@link FineTunedModel} over what the run
 * exported (the base model with its adapter, or the whole trained model).
 *
 * <p>The hyper-parameters people tune are typed Params layered over the YAML, as XGBoost4J-Spark exposes its own, so
 * {@code CrossValidator} and {@code ParamGridBuilder} can tune them: a set Param replaces its YAML key, an unset one
 * leaves the YAML's value (their getters return the value a fit will use). Values are checked by the job config's
 * own rules, at {@code set} and again at {@code fit}, and a bad one is refused naming the Param and the key.
 *
 * <p>Each fit trains in a fresh folder {@code <train.output_dir>/fit-<UTC time>-<random>}, as Hugging Face's
 * hyper-parameter search gives each trial its own {@code run-<id>}: refits (a CrossValidator fits once per fold and
 * grid point) never continue each other's checkpoints. The DataFrame's tokenized columns are written there as
 * Parquet ({@code _training_data}, {@code 4 x world_size} files so every rank gets whole row groups of its own) on the
 * executors, and the ranks read them from there: rows never pass through the driver.
 */
public final class FineTuner extends Estimator<FineTunedModel> implements MLWritable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);
    static final String DATA_FOLDER = "_training_data";
    static final String FIT_PREFIX = "fit-";
    private static final int FILES_PER_RANK = 4;
    private static final DateTimeFormatter FIT_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    /** Hyper-parameter Param name to the job YAML key it replaces when set. */
    private static final Map<String, String> YAML_KEYS = new LinkedHashMap<>();

    static {
        YAML_KEYS.put("learningRate", "train.learning_rate");
        YAML_KEYS.put("numTrainEpochs", "train.num_train_epochs");
        YAML_KEYS.put("maxSteps", "train.max_steps");
        YAML_KEYS.put("perDeviceTrainBatchSize", "train.per_device_train_batch_size");
        YAML_KEYS.put("gradientAccumulationSteps", "train.gradient_accumulation_steps");
        YAML_KEYS.put("seed", "train.seed");
        YAML_KEYS.put("outputDir", "train.output_dir");
        YAML_KEYS.put("finetuningType", "method.finetuning_type");
        YAML_KEYS.put("loraRank", "method.lora_rank");
        YAML_KEYS.put("loraAlpha", "method.lora_alpha");
        YAML_KEYS.put("loraDropout", "method.lora_dropout");
        YAML_KEYS.put("worldSize", "dist.world_size");
    }

    private final String uid;
    private final Param<String> config;
    private final StringArrayParam overrides;

    private final DoubleParam learningRate;
    private final DoubleParam numTrainEpochs;
    private final LongParam maxSteps;
    private final IntParam perDeviceTrainBatchSize;
    private final IntParam gradientAccumulationSteps;
    private final LongParam seed;
    private final Param<String> outputDir;
    private final Param<String> finetuningType;
    private final IntParam loraRank;
    private final DoubleParam loraAlpha;
    private final DoubleParam loraDropout;
    private final IntParam worldSize;

    private final Param<String> inputIdsCol;
    private final Param<String> labelsCol;
    private final Param<String> segmentIdsCol;
    private final Param<String> labelCol;
    private final Param<String> taskCol;

    public FineTuner() {
        this(Identifiable$.MODULE$.randomUID("fineTuner"));
    }

    public FineTuner(String uid) {
        this.uid = uid;
        config = new Param<>(this, "config", "the job YAML (sections model, method, train, dist, ...) as text");
        overrides = new StringArrayParam(this, "overrides", "SECTION.KEY=VALUE overrides applied to config");
        setDefault(overrides, new String[0]);

        learningRate = new DoubleParam(this, "learningRate", yaml("learningRate", "peak learning rate"));
        numTrainEpochs = new DoubleParam(this, "numTrainEpochs", yaml("numTrainEpochs", "passes over the rows"));
        maxSteps = new LongParam(this, "maxSteps", yaml("maxSteps", "optimizer steps; -1 trains numTrainEpochs"));
        perDeviceTrainBatchSize = new IntParam(this, "perDeviceTrainBatchSize",
                yaml("perDeviceTrainBatchSize", "rows per micro-batch on each rank"));
        gradientAccumulationSteps = new IntParam(this, "gradientAccumulationSteps",
                yaml("gradientAccumulationSteps", "micro-batches per optimizer step"));
        seed = new LongParam(this, "seed", yaml("seed", "seed of initialisation, dropout and data order"));
        outputDir = new Param<>(this, "outputDir", yaml("outputDir", "folder under which each fit trains in its own"
                + " fit-<time>-<id> subfolder"));
        finetuningType = new Param<>(this, "finetuningType", yaml("finetuningType",
                "lora, full, freeze, adapter, prefix, prompt or bitfit"));
        loraRank = new IntParam(this, "loraRank", yaml("loraRank", "rank r of the LoRA update"));
        loraAlpha = new DoubleParam(this, "loraAlpha", yaml("loraAlpha", "LoRA scale numerator (scale = alpha / r);"
                + " the YAML's default is 2 x lora_rank"));
        loraDropout = new DoubleParam(this, "loraDropout", yaml("loraDropout", "dropout on the LoRA input"));
        worldSize = new IntParam(this, "worldSize", yaml("worldSize", "ranks: Spark barrier tasks that train together"));

        inputIdsCol = new Param<>(this, "inputIdsCol", "token ids column (array of integers), required");
        labelsCol = new Param<>(this, "labelsCol", "per-token targets column (array of integers, -100 = no loss)");
        segmentIdsCol = new Param<>(this, "segmentIdsCol", "segment ids of packed rows (array of integers)");
        labelCol = new Param<>(this, "labelCol", "class index column (integer), required for method.stage cls");
        taskCol = new Param<>(this, "taskCol", "task name column (string), for multi-task runs");
        setDefault(inputIdsCol, TokenizedParquet.INPUT_IDS);
        setDefault(labelsCol, TokenizedParquet.LABELS);
        setDefault(segmentIdsCol, TokenizedParquet.SEGMENT_IDS);
        setDefault(labelCol, TokenizedParquet.LABEL);
        setDefault(taskCol, TokenizedParquet.TASK);
    }

    private static String yaml(String param, String doc) {
        return YAML_KEYS.get(param) + ": " + doc + "; when set, replaces the job YAML's value";
    }

    @Override
    public String uid() {
        return uid;
    }

    // ---- params (Spark ML finds them through these public no-argument methods)

    public Param<String> config() {
        return config;
    }

    public StringArrayParam overrides() {
        return overrides;
    }

    public DoubleParam learningRate() {
        return learningRate;
    }

    public DoubleParam numTrainEpochs() {
        return numTrainEpochs;
    }

    public LongParam maxSteps() {
        return maxSteps;
    }

    public IntParam perDeviceTrainBatchSize() {
        return perDeviceTrainBatchSize;
    }

    public IntParam gradientAccumulationSteps() {
        return gradientAccumulationSteps;
    }

    public LongParam seed() {
        return seed;
    }

    public Param<String> outputDir() {
        return outputDir;
    }

    public Param<String> finetuningType() {
        return finetuningType;
    }

    public IntParam loraRank() {
        return loraRank;
    }

    public DoubleParam loraAlpha() {
        return loraAlpha;
    }

    public DoubleParam loraDropout() {
        return loraDropout;
    }

    public IntParam worldSize() {
        return worldSize;
    }

    public Param<String> inputIdsCol() {
        return inputIdsCol;
    }

    public Param<String> labelsCol() {
        return labelsCol;
    }

    public Param<String> segmentIdsCol() {
        return segmentIdsCol;
    }

    public Param<String> labelCol() {
        return labelCol;
    }

    public Param<String> taskCol() {
        return taskCol;
    }

    // ---- getters: a hyper-parameter's getter gives the value a fit uses, the Param's if set, else the YAML's

    public String getConfig() {
        return $(config);
    }

    public String[] getOverrides() {
        return $(overrides);
    }

    public double getLearningRate() {
        return job().train().learningRate();
    }

    public double getNumTrainEpochs() {
        return job().train().numTrainEpochs();
    }

    public long getMaxSteps() {
        return job().train().maxSteps();
    }

    public int getPerDeviceTrainBatchSize() {
        return job().train().perDeviceTrainBatchSize();
    }

    public int getGradientAccumulationSteps() {
        return job().train().gradientAccumulationSteps();
    }

    public long getSeed() {
        return job().train().seed();
    }

    public String getOutputDir() {
        return job().train().outputDir();
    }

    public String getFinetuningType() {
        return job().method().finetuningType();
    }

    public int getLoraRank() {
        return job().method().loraRank();
    }

    public double getLoraAlpha() {
        return job().method().loraAlpha();
    }

    public double getLoraDropout() {
        return job().method().loraDropout();
    }

    public int getWorldSize() {
        return job().dist().worldSize();
    }

    public String getInputIdsCol() {
        return $(inputIdsCol);
    }

    public String getLabelsCol() {
        return $(labelsCol);
    }

    public String getSegmentIdsCol() {
        return $(segmentIdsCol);
    }

    public String getLabelCol() {
        return $(labelCol);
    }

    public String getTaskCol() {
        return $(taskCol);
    }

    // ---- setters

    public FineTuner setConfig(String yaml) {
        set(config, yaml);
        return this;
    }

    public FineTuner setOverrides(String... values) {
        set(overrides, values);
        return this;
    }

    public FineTuner setLearningRate(double value) {
        return setChecked(learningRate, value);
    }

    public FineTuner setNumTrainEpochs(double value) {
        return setChecked(numTrainEpochs, value);
    }

    public FineTuner setMaxSteps(long value) {
        return setChecked(maxSteps, value);
    }

    public FineTuner setPerDeviceTrainBatchSize(int value) {
        return setChecked(perDeviceTrainBatchSize, value);
    }

    public FineTuner setGradientAccumulationSteps(int value) {
        return setChecked(gradientAccumulationSteps, value);
    }

    public FineTuner setSeed(long value) {
        return setChecked(seed, value);
    }

    public FineTuner setOutputDir(String value) {
        return setChecked(outputDir, value);
    }

    public FineTuner setFinetuningType(String value) {
        return setChecked(finetuningType, value);
    }

    public FineTuner setLoraRank(int value) {
        return setChecked(loraRank, value);
    }

    public FineTuner setLoraAlpha(double value) {
        return setChecked(loraAlpha, value);
    }

    public FineTuner setLoraDropout(double value) {
        return setChecked(loraDropout, value);
    }

    public FineTuner setWorldSize(int value) {
        return setChecked(worldSize, value);
    }

    public FineTuner setInputIdsCol(String value) {
        set(inputIdsCol, value);
        return this;
    }

    public FineTuner setLabelsCol(String value) {
        set(labelsCol, value);
        return this;
    }

    public FineTuner setSegmentIdsCol(String value) {
        set(segmentIdsCol, value);
        return this;
    }

    public FineTuner setLabelCol(String value) {
        set(labelCol, value);
        return this;
    }

    public FineTuner setTaskCol(String value) {
        set(taskCol, value);
        return this;
    }

    // ---- Estimator

    @Override
    public StructType transformSchema(StructType schema) {
        requireColumn(schema, getInputIdsCol(), true);
        requireColumn(schema, getLabelsCol(), false);
        requireColumn(schema, getSegmentIdsCol(), false);
        if (job().method().stage().equals("cls")) {
            requireLabel(schema, getLabelCol());
        }
        return schema;
    }

    @Override
    public FineTunedModel fit(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        LoadedConfig loaded = loadConfig();
        JobConfig job = loaded.job();
        String run = new Path(job.train().outputDir(), FIT_PREFIX + FIT_TIME.format(Instant.now()) + "-"
                + UUID.randomUUID().toString().substring(0, 8)).toString();
        LOG.info("FineTuner {}: fit trains in {}", uid, run);
        String data = new Path(run, DATA_FOLDER).toString();
        Dataset<Row> rows = tokenizedColumns(dataset).repartition(FILES_PER_RANK * job.dist().worldSize());
        rows.write().mode(SaveMode.ErrorIfExists).parquet(data);
        if (job.method().stage().equals("cls")) {
            writeLabels(rows, data, dataset);
        }
        sealed(data, dataset.sparkSession());
        LoadedConfig training = ConfigLoader.parse(loaded.toYaml(), loaded.source(),
                List.of("data.tokenized_path=" + data, "train.output_dir=" + run));
        TrainingOutcome outcome = TrainingJob.run(dataset.sparkSession(), training);
        FineTunedModel model = outcome.wholeModel() ? FineTunedModel.of(outcome.export(), null)
                : FineTunedModel.of(job.model().modelNameOrPath(), outcome.export());
        return model.setParent(this);
    }

    @Override
    public FineTuner copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    // ---- persistence: params only, as Spark ML's DefaultParamsWritable / DefaultParamsReadable

    /** Marks the written folder complete ({@link CommitMarker}), as the trainer requires of its input. */
    private static void sealed(String data, SparkSession spark) {
        try {
            Path folder = new Path(data);
            CommitMarker.write(folder.getFileSystem(spark.sparkContext().hadoopConfiguration()), folder);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot mark " + data + " complete: " + e.getMessage(), e);
        }
    }

    @Override
    public MLWriter write() {
        return new DefaultParamsWriter(this);
    }

    public static MLReader<FineTuner> read() {
        return new DefaultParamsReader<>();
    }

    public static FineTuner load(String path) {
        return read().load(path);
    }

    // ---- internals

    private JobConfig job() {
        return loadConfig().job();
    }

    /** The job YAML with the overrides, then every set hyper-parameter Param, applied and checked. */
    private LoadedConfig loadConfig() {
        if (!isDefined(config) || getConfig() == null) {
            throw new IllegalArgumentException("FineTuner: set the job YAML with setConfig(...)");
        }
        List<String> all = new ArrayList<>(Arrays.asList(getOverrides()));
        YAML_KEYS.keySet().forEach(name -> {
            Param<Object> param = getParam(name);
            if (isSet(param)) {
                all.add(override(param, $(param)));
            }
        });
        return ConfigLoader.parse(getConfig(), "FineTuner config", all);
    }

    @SuppressWarnings("unchecked")
    private FineTuner setChecked(Param<?> param, Object value) {
        override(param, value);
        set((Param<Object>) param, value);
        return this;
    }

    /** {@code section.key=value} for a hyper-parameter Param, after the config's own check of that one value. */
    private static String override(Param<?> param, Object value) {
        String override = YAML_KEYS.get(param.name()) + "=" + value;
        try {
            ConfigLoader.parse("", "FineTuner", List.of(override));
        } catch (ConfigException e) {
            String problems = e.errors().stream().map(error -> error.key() + ": " + error.problem())
                    .collect(Collectors.joining("; "));
            throw new IllegalArgumentException("FineTuner: " + param.name() + " " + value + " is refused (" + problems
                    + ")", e);
        }
        return override;
    }

    /** The tokenized columns the DataFrame has, under their contract names, as the types the trainer reads. */
    private Dataset<Row> tokenizedColumns(Dataset<?> dataset) {
        List<String> present = Arrays.asList(dataset.schema().fieldNames());
        List<Column> columns = new ArrayList<>();
        for (String name : TokenizedParquet.COLUMNS) {
            String source = $(columnParam(name));
            if (!present.contains(source)) {
                continue;
            }
            DataType type = switch (name) {
                case TokenizedParquet.LABEL -> DataTypes.LongType;
                case TokenizedParquet.TASK -> DataTypes.StringType;
                default -> DataTypes.createArrayType(DataTypes.LongType, false);
            };
            columns.add(col(source).cast(type).as(name));
        }
        return dataset.toDF().select(columns.toArray(Column[]::new));
    }

    private Param<String> columnParam(String name) {
        return switch (name) {
            case TokenizedParquet.INPUT_IDS -> inputIdsCol;
            case TokenizedParquet.LABELS -> labelsCol;
            case TokenizedParquet.SEGMENT_IDS -> segmentIdsCol;
            case TokenizedParquet.LABEL -> labelCol;
            case TokenizedParquet.TASK -> taskCol;
            default -> throw new IllegalStateException("no column Param for tokenized column " + name);
        };
    }

    /** The labels file for class indexes 0..max(label), from a one-row aggregate, never the rows. */
    private static void writeLabels(Dataset<Row> rows, String data, Dataset<?> dataset) {
        Row top = rows.agg(max(col(TokenizedParquet.LABEL))).first();
        if (top.isNullAt(0)) {
            throw new IllegalArgumentException("FineTuner: method.stage is cls but every label is null");
        }
        LabelsFile.numbered(Math.toIntExact(top.getLong(0) + 1))
                .write(dataset.sparkSession().sparkContext().hadoopConfiguration(), data);
    }

    private static void requireColumn(StructType schema, String name, boolean required) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            if (required) {
                throw new IllegalArgumentException("FineTuner: the DataFrame has no '" + name + "' column (columns: "
                        + String.join(", ", schema.fieldNames()) + "); fit takes tokenized rows as `sparktune prep` writes"
                        + " them, or set inputIdsCol");
            }
            return;
        }
        StructField field = schema.apply(name);
        if (!(field.dataType() instanceof ArrayType array) || !isInteger(array.elementType())) {
            throw new IllegalArgumentException("FineTuner: column '" + name + "' must be an array of integers, not "
                    + field.dataType().simpleString());
        }
    }

    private static void requireLabel(StructType schema, String name) {
        if (!Arrays.asList(schema.fieldNames()).contains(name) || !isInteger(schema.apply(name).dataType())) {
            throw new IllegalArgumentException("FineTuner: method.stage is cls, so the DataFrame needs an integer '" + name
                    + "' column (labelCol) holding class indexes 0, 1, ...");
        }
    }

    private static boolean isInteger(DataType type) {
        return type.equals(DataTypes.LongType) || type.equals(DataTypes.IntegerType) || type.equals(DataTypes.ShortType);
    }
}
