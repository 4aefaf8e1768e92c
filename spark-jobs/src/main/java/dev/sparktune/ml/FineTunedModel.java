package dev.sparktune.ml;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.config.GeneratingConfig;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedParquet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A fine-tuned model as a Spark ML {@link Model}: {@code transform} scores a DataFrame on the executors.
 * It holds locations, not weights: a Hugging Face model folder ({@code modelPath}: config.json, safetensors
 * weights, tokenizer files) and optionally a PEFT adapter folder ({@code adapterPath}), on any Hadoop file
 * system. Each executor JVM loads one copy of the model, lazily, and scores its partitions in batches.
 *
 * <p>Input: the token-id column {@code inputIdsCol} (array&lt;bigint&gt;, as {@code sparktune prep} writes it)
 * when the DataFrame has it, else the text column {@code inputCol}, tokenized with the model's tokenizer.
 * Output, appended to the input columns: for a BERT-family classifier (model_type {@code bert}, head
 * {@code classifier}) {@code prediction} (double, the argmax class), {@code probability} (ml Vector) and
 * {@code predictedLabel} (the class's name from {@code id2label} in the adapter's {@code config.json} when it has one,
 * else the model's; Hugging Face's {@code LABEL_<i>} without one);
 * for a Llama-family causal LM {@code loss} (mean next-token cross-entropy over the row's scored tokens,
 * those whose {@code labels} entry is not -100 when a labels column is present) and
 * {@code perplexity} = exp(loss). A null or empty input gives null outputs.
 *
 * <p>Generation: with {@code maxNewTokens > 0} a causal LM also writes {@code generatedText}, the completion of each
 * row's prompt, batched on the executors through the KV cache with Hugging Face {@code generate()}'s settings
 * ({@code doSample}, {@code temperature}, {@code topK}, {@code topP}, {@code repetitionPenalty}, {@code stopStrings};
 * {@link #setGeneration} takes them from a job's {@code generation} section). The prompt is the {@code messagesCol}
 * conversation (array&lt;struct&lt;role, content&gt;&gt;, OpenAI's shape) rendered through the chat template with
 * the assistant's cue, when the DataFrame has that column; else the token ids or text as they are. Greedy decoding is
 * deterministic; sampled text depends on how rows fall into batches.
 *
 * <pre>
 * FineTunedModel model = new FineTunedModel()
 *         .setModelPath("hdfs:///models/all-MiniLM-L6-v2").setAdapterPath("hdfs:///runs/7/adapter");
 * Dataset&lt;Row&gt; scored = model.transform(df);
 * model.write().overwrite().save("hdfs:///models/spam-v1");   // self-contained: files copied under it
 * FineTunedModel again = FineTunedModel.load("hdfs:///models/spam-v1");
 * </pre>
 */
public final class FineTunedModel extends Model<FineTunedModel> implements MLWritable {
    private static final long serialVersionUID = 1L;

    private final String uid;
    private final Param<String> modelPath;
    private final Param<String> adapterPath;
    private final Param<String> inputCol;
    private final Param<String> inputIdsCol;
    private final Param<String> labelsCol;
    private final Param<String> segmentIdsCol;
    private final IntParam batchSize;
    private final Param<String> predictionCol;
    private final Param<String> probabilityCol;
    private final Param<String> predictedLabelCol;
    private final Param<String> lossCol;
    private final Param<String> perplexityCol;
    private final Param<String> messagesCol;
    private final Param<String> generatedTextCol;
    private final IntParam maxLength;
    private final IntParam tailLength;
    private final IntParam maxNewTokens;
    private final BooleanParam doSample;
    private final DoubleParam temperature;
    private final IntParam topK;
    private final DoubleParam topP;
    private final DoubleParam repetitionPenalty;
    private final StringArrayParam stopStrings;
    private final LongParam seed;
    private final Param<String> chatTemplate;

    /** Model kind of the last modelPath read on the driver; not shipped anywhere. */
    private transient String kindOf;
    private transient ModelKind kind;

    public FineTunedModel() {
        this(Identifiable$.MODULE$.randomUID("fineTunedModel"));
    }

    public FineTunedModel(String uid) {
        this.uid = uid;
        modelPath = new Param<>(this, "modelPath", "Hugging Face model folder (config.json, weights, tokenizer files);"
                + " a local path or any Hadoop file system URI");
        adapterPath = new Param<>(this, "adapterPath", "PEFT adapter folder (adapter_config.json,"
                + " adapter_model.safetensors) applied on modelPath; unset for none");
        inputCol = new Param<>(this, "inputCol", "text column, tokenized with the model's tokenizer");
        inputIdsCol = new Param<>(this, "inputIdsCol", "token-id column (array<bigint>), used instead of inputCol"
                + " when the DataFrame has it");
        labelsCol = new Param<>(this, "labelsCol", "causal LM: per-token targets (array<bigint>, -100 = not scored),"
                + " used with inputIdsCol when present; else every token is scored");
        segmentIdsCol = new Param<>(this, "segmentIdsCol", "causal LM: segment ids of packed rows (array<bigint>),"
                + " used with inputIdsCol when present");
        batchSize = new IntParam(this, "batchSize", "rows per forward pass on an executor (> 0)", ParamValidators.gt(0));
        predictionCol = new Param<>(this, "predictionCol", "classifier output: the predicted class index");
        probabilityCol = new Param<>(this, "probabilityCol", "classifier output: class probabilities");
        predictedLabelCol = new Param<>(this, "predictedLabelCol", "classifier output: the predicted class's name"
                + " (config.json's id2label, else LABEL_<index>)");
        lossCol = new Param<>(this, "lossCol", "causal LM output: mean token cross-entropy of the row");
        perplexityCol = new Param<>(this, "perplexityCol", "causal LM output: exp(loss)");
        messagesCol = new Param<>(this, "messagesCol", "causal LM generation: a conversation"
                + " (array<struct<role,content>>) completed as the next assistant turn through the chat template;"
                + " used instead of the text or token-id column as the prompt when the DataFrame has it");
        generatedTextCol = new Param<>(this, "generatedTextCol", "causal LM output when maxNewTokens > 0: the"
                + " completion of the row's prompt");
        maxLength = new IntParam(this, "maxLength", "classifier: input tokens kept per text (data.cutoff_len);"
                + " 0 = the tokenizer's model_max_length", ParamValidators.gtEq(0));
        tailLength = new IntParam(this, "tailLength", "classifier: of maxLength's tokens, how many a longer text keeps"
                + " from its end beside its start (data.cutoff_tail_len); 0 = cut on the tokenizer's truncation side",
                ParamValidators.gtEq(0));
        maxNewTokens = new IntParam(this, "maxNewTokens", "causal LM: generate at most this many tokens per row"
                + " into generatedTextCol; 0 = no generation", ParamValidators.gtEq(0));
        doSample = new BooleanParam(this, "doSample", "generation: sample (true) or greedy (false)");
        temperature = new DoubleParam(this, "temperature", "sampling: logits are divided by this (> 0)",
                ParamValidators.gt(0));
        topK = new IntParam(this, "topK", "sampling: keep the k most likely tokens; 0 = all", ParamValidators.gtEq(0));
        topP = new DoubleParam(this, "topP", "sampling: keep the most likely tokens up to this probability, (0, 1]",
                ParamValidators.inRange(0, 1, false, true));
        repetitionPenalty = new DoubleParam(this, "repetitionPenalty", "generation: CTRL's penalty on tokens already"
                + " in the sequence; 1 = none", ParamValidators.gt(0));
        stopStrings = new StringArrayParam(this, "stopStrings", "generation: a completion ends where its text"
                + " contains one of these, cut before it");
        seed = new LongParam(this, "seed", "sampling: seed of each batch's draws");
        chatTemplate = new Param<>(this, "chatTemplate", "generation from messagesCol: a built-in chat template"
                + " (chatml, llama3, alpaca); unset = the model's own");
        setDefault(inputCol, "text");
        setDefault(inputIdsCol, TokenizedParquet.INPUT_IDS);
        setDefault(labelsCol, TokenizedParquet.LABELS);
        setDefault(segmentIdsCol, TokenizedParquet.SEGMENT_IDS);
        setDefault(batchSize, 32);
        setDefault(predictionCol, "prediction");
        setDefault(probabilityCol, "probability");
        setDefault(predictedLabelCol, "predictedLabel");
        setDefault(lossCol, "loss");
        setDefault(perplexityCol, "perplexity");
        setDefault(messagesCol, "messages");
        setDefault(generatedTextCol, "generatedText");
        setDefault(maxLength, 0);
        setDefault(tailLength, 0);
        setDefault(maxNewTokens, 0);
        setDefault(doSample, false);
        setDefault(temperature, 1.0);
        setDefault(topK, 50);
        setDefault(topP, 1.0);
        setDefault(repetitionPenalty, 1.0);
        setDefault(stopStrings, new String[0]);
        setDefault(seed, 0L);
    }

    /** The model of a model folder and, if {@code adapterPath} is not null, an adapter folder. */
    public static FineTunedModel of(String modelPath, String adapterPath) {
        FineTunedModel m = new FineTunedModel().setModelPath(modelPath);
        return adapterPath == null ? m : m.setAdapterPath(adapterPath);
    }

    @Override
    public String uid() {
        return uid;
    }

    // ---- params (Spark ML finds them through these public no-argument methods)

    public Param<String> modelPath() {
        return modelPath;
    }

    public Param<String> adapterPath() {
        return adapterPath;
    }

    public Param<String> inputCol() {
        return inputCol;
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

    public IntParam batchSize() {
        return batchSize;
    }

    public Param<String> predictionCol() {
        return predictionCol;
    }

    public Param<String> probabilityCol() {
        return probabilityCol;
    }

    public Param<String> predictedLabelCol() {
        return predictedLabelCol;
    }

    public Param<String> lossCol() {
        return lossCol;
    }

    public Param<String> perplexityCol() {
        return perplexityCol;
    }

    public Param<String> messagesCol() {
        return messagesCol;
    }

    public Param<String> generatedTextCol() {
        return generatedTextCol;
    }

    public IntParam maxLength() {
        return maxLength;
    }

    public IntParam tailLength() {
        return tailLength;
    }

    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    public BooleanParam doSample() {
        return doSample;
    }

    public DoubleParam temperature() {
        return temperature;
    }

    public IntParam topK() {
        return topK;
    }

    public DoubleParam topP() {
        return topP;
    }

    public DoubleParam repetitionPenalty() {
        return repetitionPenalty;
    }

    public StringArrayParam stopStrings() {
        return stopStrings;
    }

    public LongParam seed() {
        return seed;
    }

    public Param<String> chatTemplate() {
        return chatTemplate;
    }

    public String getModelPath() {
        return isDefined(modelPath) ? getOrDefault(modelPath) : null;
    }

    /** The adapter folder, or null when none is set. */
    public String getAdapterPath() {
        return isDefined(adapterPath) ? getOrDefault(adapterPath) : null;
    }

    public String getInputCol() {
        return getOrDefault(inputCol);
    }

    public String getInputIdsCol() {
        return getOrDefault(inputIdsCol);
    }

    public String getLabelsCol() {
        return getOrDefault(labelsCol);
    }

    public String getSegmentIdsCol() {
        return getOrDefault(segmentIdsCol);
    }

    public int getBatchSize() {
        return (Integer) getOrDefault(batchSize);
    }

    public String getPredictionCol() {
        return getOrDefault(predictionCol);
    }

    public String getProbabilityCol() {
        return getOrDefault(probabilityCol);
    }

    public String getPredictedLabelCol() {
        return getOrDefault(predictedLabelCol);
    }

    public String getLossCol() {
        return getOrDefault(lossCol);
    }

    public String getPerplexityCol() {
        return getOrDefault(perplexityCol);
    }

    public String getMessagesCol() {
        return getOrDefault(messagesCol);
    }

    public String getGeneratedTextCol() {
        return getOrDefault(generatedTextCol);
    }

    public int getMaxLength() {
        return (Integer) getOrDefault(maxLength);
    }

    public int getTailLength() {
        return (Integer) getOrDefault(tailLength);
    }

    public int getMaxNewTokens() {
        return (Integer) getOrDefault(maxNewTokens);
    }

    /** The chat template name, or null for the model's own. */
    public String getChatTemplate() {
        return isDefined(chatTemplate) ? getOrDefault(chatTemplate) : null;
    }

    /** The generation settings of the params, or null when maxNewTokens is 0 (no generation). */
    public GeneratingConfig getGeneration() {
        int tokens = getMaxNewTokens();
        return tokens == 0 ? null : new GeneratingConfig(tokens, (Boolean) getOrDefault(doSample),
                (Double) getOrDefault(temperature), (Integer) getOrDefault(topK), (Double) getOrDefault(topP),
                (Double) getOrDefault(repetitionPenalty), List.of(getOrDefault(stopStrings)));
    }

    public long getSeed() {
        return (Long) getOrDefault(seed);
    }

    public FineTunedModel setModelPath(String value) {
        set(modelPath, value);
        return this;
    }

    /** Sets the adapter folder; null removes it. */
    public FineTunedModel setAdapterPath(String value) {
        if (value == null) {
            clear(adapterPath);
        } else {
            set(adapterPath, value);
        }
        return this;
    }

    public FineTunedModel setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public FineTunedModel setInputIdsCol(String value) {
        set(inputIdsCol, value);
        return this;
    }

    public FineTunedModel setLabelsCol(String value) {
        set(labelsCol, value);
        return this;
    }

    public FineTunedModel setSegmentIdsCol(String value) {
        set(segmentIdsCol, value);
        return this;
    }

    public FineTunedModel setBatchSize(int value) {
        set(batchSize, value);
        return this;
    }

    public FineTunedModel setPredictionCol(String value) {
        set(predictionCol, value);
        return this;
    }

    public FineTunedModel setProbabilityCol(String value) {
        set(probabilityCol, value);
        return this;
    }

    public FineTunedModel setPredictedLabelCol(String value) {
        set(predictedLabelCol, value);
        return this;
    }

    public FineTunedModel setLossCol(String value) {
        set(lossCol, value);
        return this;
    }

    public FineTunedModel setPerplexityCol(String value) {
        set(perplexityCol, value);
        return this;
    }

    public FineTunedModel setMessagesCol(String value) {
        set(messagesCol, value);
        return this;
    }

    public FineTunedModel setGeneratedTextCol(String value) {
        set(generatedTextCol, value);
        return this;
    }

    public FineTunedModel setMaxLength(int value) {
        set(maxLength, value);
        return this;
    }

    public FineTunedModel setTailLength(int value) {
        set(tailLength, value);
        return this;
    }

    public FineTunedModel setMaxNewTokens(int value) {
        set(maxNewTokens, value);
        return this;
    }

    public FineTunedModel setDoSample(boolean value) {
        set(doSample, value);
        return this;
    }

    public FineTunedModel setTemperature(double value) {
        set(temperature, value);
        return this;
    }

    public FineTunedModel setTopK(int value) {
        set(topK, value);
        return this;
    }

    public FineTunedModel setTopP(double value) {
        set(topP, value);
        return this;
    }

    public FineTunedModel setRepetitionPenalty(double value) {
        set(repetitionPenalty, value);
        return this;
    }

    public FineTunedModel setStopStrings(String[] value) {
        set(stopStrings, value);
        return this;
    }

    public FineTunedModel setSeed(long value) {
        set(seed, value);
        return this;
    }

    /** Sets a built-in chat template by name; null means the model's own. */
    public FineTunedModel setChatTemplate(String value) {
        if (value == null) {
            clear(chatTemplate);
        } else {
            set(chatTemplate, value);
        }
        return this;
    }

    /** Every generation param from a job's {@code generation} section, sampling seeded by {@code seed}. */
    public FineTunedModel setGeneration(GeneratingConfig generation, long seed) {
        return setMaxNewTokens(generation.maxNewTokens()).setDoSample(generation.doSample())
                .setTemperature(generation.temperature()).setTopK(generation.topK()).setTopP(generation.topP())
                .setRepetitionPenalty(generation.repetitionPenalty())
                .setStopStrings(generation.stop().toArray(String[]::new)).setSeed(seed);
    }

    // ---- Transformer

    @Override
    public StructType transformSchema(StructType schema) {
        ModelKind k = kind(hadoopConf());
        columns(schema, k);
        List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
        for (StructField out : k.outputFields(this)) {
            if (Arrays.asList(schema.fieldNames()).contains(out.name())) {
                throw new IllegalArgumentException("FineTunedModel: output column '" + out.name()
                        + "' already exists in the DataFrame; choose another name with its *Col param");
            }
            fields.add(out);
        }
        return DataTypes.createStructType(fields);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        SparkSession spark = dataset.sparkSession();
        ModelKind k = kind(spark.sparkContext().hadoopConfiguration());
        ModelFiles files = ModelFiles.resolve(getModelPath(), getAdapterPath(), spark);
        List<String> labels = k == ModelKind.CLASSIFIER ? labelNames(spark.sparkContext().hadoopConfiguration()) : null;
        if (getTailLength() > 0 && (getMaxLength() == 0 || getTailLength() >= getMaxLength())) {
            throw new IllegalArgumentException("tailLength " + getTailLength() + " needs a maxLength above it, got "
                    + getMaxLength());
        }
        ScorePartition.Settings settings = new ScorePartition.Settings(getBatchSize(), getMaxLength(),
                getTailLength(), k == ModelKind.CAUSAL_LM ? getGeneration() : null, getChatTemplate(), getSeed(), labels);
        return dataset.toDF().mapPartitions(new ScorePartition(files, k, columns(dataset.schema(), k), settings, out),
                Encoders.row(out));
    }

    @Override
    public FineTunedModel copy(ParamMap extra) {
        FineTunedModel copy = defaultCopy(extra);
        return copy.setParent(parent());
    }

    // ---- persistence

    /**
     * Saves the params as Spark ML metadata ({@code metadata/}: class, uid, params) and copies the model
     * folder to {@code model/} and the adapter to {@code adapter/} under the path, so the saved folder
     * stands alone.
     */
    @Override
    public MLWriter write() {
        return new FineTunedModelWriter(this);
    }

    public static MLReader<FineTunedModel> read() {
        return new FineTunedModelReader();
    }

    /** A model saved by {@code write().save(path)}, on any Hadoop file system. */
    public static FineTunedModel load(String path) {
        return read().load(path);
    }

    @Override
    public String toString() {
        return "FineTunedModel: uid=" + uid + ", model=" + getModelPath()
                + (getAdapterPath() == null ? "" : ", adapter=" + getAdapterPath());
    }

    // ---- internals

    private ModelKind kind(Configuration conf) {
        String model = getModelPath();
        if (model == null) {
            throw new IllegalArgumentException("FineTunedModel: modelPath is not set; set it to a Hugging Face model"
                    + " folder (config.json, weights, tokenizer files)");
        }
        if (!model.equals(kindOf)) {
            kind = ModelKind.of(ModelFiles.openConfig(model, conf));
            kindOf = model;
        }
        return kind;
    }

    /** The class names of id2label in the adapter's config.json when it has them, else the model's; null for none. */
    private List<String> labelNames(Configuration conf) {
        Optional<LabelsFile> adapter = getAdapterPath() == null ? Optional.empty() : id2label(getAdapterPath(), conf);
        return adapter.or(() -> id2label(getModelPath(), conf)).map(LabelsFile::labels).orElse(null);
    }

    private static Optional<LabelsFile> id2label(String folder, Configuration conf) {
        Path file = new Path(folder, ModelDirectory.CONFIG_FILE);
        try {
            FileSystem fs = file.getFileSystem(conf);
            return fs.exists(file) ? LabelsFile.fromJson(HadoopFiles.readString(fs, file), file.toString()) : Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("FineTunedModel: cannot read " + file, e);
        }
    }

    /** The input columns this schema offers the model, checked. */
    private ScorePartition.Columns columns(StructType schema, ModelKind k) {
        List<String> names = Arrays.asList(schema.fieldNames());
        ScorePartition.Messages messages = null;
        if (k == ModelKind.CAUSAL_LM && getMaxNewTokens() > 0 && names.contains(getMessagesCol())) {
            messages = requireMessages(schema, getMessagesCol());
        }
        String ids = getInputIdsCol();
        if (names.contains(ids)) {
            requireTokenIds(schema, ids);
            int labels = -1;
            int segments = -1;
            if (k == ModelKind.CAUSAL_LM && names.contains(getLabelsCol())) {
                labels = requireTokenIds(schema, getLabelsCol());
            }
            if (k == ModelKind.CAUSAL_LM && names.contains(getSegmentIdsCol())) {
                segments = requireTokenIds(schema, getSegmentIdsCol());
            }
            return new ScorePartition.Columns(getInputCol(), -1, schema.fieldIndex(ids), labels, segments, messages);
        }
        String text = getInputCol();
        if (!names.contains(text) && messages != null) {
            return new ScorePartition.Columns(text, -1, -1, -1, -1, messages);
        }
        if (!names.contains(text)) {
            throw new IllegalArgumentException("FineTunedModel: input column '" + text + "' is not in the DataFrame"
                    + " (nor a token-id column '" + ids + "'); its columns are " + names + ". Set inputCol to the"
                    + " text column, or inputIdsCol to an array<bigint> column of token ids");
        }
        DataType type = schema.apply(text).dataType();
        if (!type.equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("FineTunedModel: input column '" + text + "' should be a string, got "
                    + type.simpleString());
        }
        return new ScorePartition.Columns(text, schema.fieldIndex(text), -1, -1, -1, messages);
    }

    /** A conversation column: array of structs with string fields role and content, as OpenAI's messages. */
    private static ScorePartition.Messages requireMessages(StructType schema, String column) {
        DataType type = schema.apply(column).dataType();
        boolean turns = type instanceof ArrayType a && a.elementType() instanceof StructType turn
                && Arrays.asList(turn.fieldNames()).containsAll(List.of("role", "content"))
                && turn.apply("role").dataType().equals(DataTypes.StringType)
                && turn.apply("content").dataType().equals(DataTypes.StringType);
        if (!turns) {
            throw new IllegalArgumentException("FineTunedModel: column '" + column + "' should be"
                    + " array<struct<role:string,content:string>> (a conversation), got " + type.simpleString());
        }
        StructType turn = (StructType) ((ArrayType) type).elementType();
        return new ScorePartition.Messages(schema.fieldIndex(column), turn.fieldIndex("role"),
                turn.fieldIndex("content"));
    }

    private static int requireTokenIds(StructType schema, String column) {
        DataType type = schema.apply(column).dataType();
        boolean integers = type instanceof ArrayType a
                && (a.elementType().equals(DataTypes.LongType) || a.elementType().equals(DataTypes.IntegerType));
        if (!integers) {
            throw new IllegalArgumentException("FineTunedModel: column '" + column + "' should be array<bigint>"
                    + " (token ids), got " + type.simpleString());
        }
        return schema.fieldIndex(column);
    }

    private static Configuration hadoopConf() {
        return SparkSession.getActiveSession().isDefined()
                ? SparkSession.getActiveSession().get().sparkContext().hadoopConfiguration()
                : new Configuration();
    }
}
