package dev.sparktune.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.tokenize.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FineTunedModel} and {@link FineTuner} on {@code local-cluster[2,1,1024]}: two executor JVMs that each load
 * the model from its files. The scores are checked against single-process inference in this JVM on the same files,
 * one row at a time (no batching, no padding), with the softmax and the cross-entropy computed here in
 * double precision. The FineTuner tests train for real, a few steps each: one fit, a CrossValidator, and a saved
 * unfitted Pipeline.
 */
@Tag("integration")
class FineTunedModelClusterTest {
    private static final String[][] SUBJECTS = {
        {"the striker", "the goalkeeper", "our team", "the coach", "the referee"},
        {"the chef", "my grandmother", "the baker", "this recipe", "the waiter"},
        {"the server", "the laptop", "the compiler", "the database", "the network card"}};
    private static final String[] PREDICATES = {"won the match on penalties", "baked fresh bread with garlic",
        "crashed after the update", "was late again"};

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static Path classifier;
    private static Path adapter;
    private static Path bare;
    private static List<String> sentences;

    @BeforeAll
    static void writeModels() {
        classifier = ScoringModels.miniLmClassifier(dir);
        adapter = ScoringModels.loraAdapter(classifier, dir.resolve("lora-adapter"));
        sentences = new ArrayList<>();
        int k = 0;
        for (String[] group : SUBJECTS) {
            for (String subject : group) {
                for (int p = 0; p < PREDICATES.length; p++) {
                    if (k++ % 3 != 2) {
                        sentences.add(subject + " " + PREDICATES[p] + (p % 2 == 0 ? "." : ", said everyone in town."));
                    }
                }
            }
        }
        sentences.add(null);
    }

    private static Dataset<Row> sentenceFrame() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < sentences.size(); i++) {
            rows.add(RowFactory.create(i, sentences.get(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
        // no shuffle: a local table is sliced into the same partitions, rows in the same order, every time, so
        // batches hold the same rows from one transform to the next (a shuffle's fetch order would vary them)
        return spark.session().createDataFrame(rows, schema);
    }

    @Test
    void classifierScoresOnExecutorsEqualSingleProcessInference() throws Exception {
        FineTunedModel model = FineTunedModel.of(classifier.toString(), null).setBatchSize(8);
        Dataset<Row> frame = sentenceFrame();
        assertEquals(2, frame.javaRDD().getNumPartitions(), "a partition for each executor");
        List<Row> scored = byId(model.transform(frame));

        assertClassifierMatches(SingleProcessReference.classProbabilities(classifier, null, sentences), scored,
                LabelsFile.numbered(ScoringModels.CLASSES).labels());
        // only locations travel to the executors: the closure is tiny next to the 90 MB of weights
        ScorePartition closure = new ScorePartition(ModelFiles.resolve(classifier.toString(), null, spark.session()),
                ModelKind.CLASSIFIER, new ScorePartition.Columns("text", 1, -1, -1, -1, null),
                new ScorePartition.Settings(8, 0, 0, null, null, 0, List.of("a", "b", "c")), model.transformSchema(frame.schema()));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(closure);
        }
        assertTrue(bytes.size() < 64 * 1024, "closure of " + bytes.size() + " bytes");
    }

    @Test
    void loraAdapterScoresOnExecutorsEqualSingleProcessInferenceWithTheAdapter() {
        FineTunedModel model = FineTunedModel.of(classifier.toString(), adapter.toString()).setBatchSize(8);
        List<Row> scored = byId(model.transform(sentenceFrame()));

        double[][] withAdapter = SingleProcessReference.classProbabilities(classifier, adapter, sentences);
        assertClassifierMatches(withAdapter, scored, LabelsFile.numbered(ScoringModels.CLASSES).labels());
        double[][] without = SingleProcessReference.classProbabilities(classifier, null, sentences);
        double change = 0;
        for (int i = 0; i < without.length - 1; i++) {
            for (int c = 0; c < ScoringModels.CLASSES; c++) {
                change = Math.max(change, Math.abs(without[i][c] - withAdapter[i][c]));
            }
        }
        assertTrue(change > 1e-3, "the adapter should change the probabilities, max change " + change);
    }

    @Test
    void predictedLabelNamesTheClassFromId2labelOfTheAdapterElseTheModel() {
        List<String> topics = List.of("sports", "food", "computers");
        Path named = ScoringModels.withId2label(classifier, topics, dir.resolve("named-classifier"));
        List<Row> scored = byId(FineTunedModel.of(named.toString(), null).setBatchSize(8).transform(sentenceFrame()));
        assertClassifierMatches(SingleProcessReference.classProbabilities(classifier, null, sentences), scored, topics);

        List<String> spam = List.of("ham", "spam", "eggs");
        Path namedAdapter = ScoringModels.withId2label(adapter, spam, dir.resolve("named-adapter"));
        List<Row> withAdapter = byId(FineTunedModel.of(named.toString(), namedAdapter.toString()).setBatchSize(8)
                .transform(sentenceFrame()));
        assertClassifierMatches(SingleProcessReference.classProbabilities(classifier, adapter, sentences), withAdapter,
                spam);

        Path twoNames = ScoringModels.withId2label(classifier, List.of("ham", "spam"), dir.resolve("two-names"));
        Exception wrong = assertThrows(Exception.class,
                () -> FineTunedModel.of(twoNames.toString(), null).transform(sentenceFrame()).collectAsList());
        assertTrue(wrong.getMessage().contains("config.json's id2label names 2 classes [ham, spam], but the classifier"
                + " head scores 3"), wrong.getMessage());
    }

    @Test
    void savedToHdfsAndLoadedBackItScoresIdentically() throws Exception {
        FineTunedModel model = FineTunedModel.of(classifier.toString(), adapter.toString()).setBatchSize(8);
        List<Row> before = byId(model.transform(sentenceFrame()));

        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("hdfs").toString());
        MiniDFSCluster hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        try {
            String saved = hdfs.getURI() + "/models/minilm-lora";
            model.write().save(saved);
            FineTunedModel loaded = FineTunedModel.load(saved);
            assertEquals(model.uid(), loaded.uid());
            assertEquals(8, loaded.getBatchSize());
            assertEquals(saved + "/model", loaded.getModelPath());
            assertEquals(saved + "/adapter", loaded.getAdapterPath());
            FileSystem fs = hdfs.getFileSystem();
            FileStatus[] parts = fs.globStatus(new org.apache.hadoop.fs.Path(saved + "/metadata/part-*"));
            assertEquals(1, parts.length);
            String metadata = new String(fs.open(parts[0].getPath()).readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(metadata.contains("\"class\":\"dev.sparktune.ml.FineTunedModel\""), metadata);
            assertTrue(metadata.contains("\"uid\":\"" + model.uid() + "\""), metadata);
            assertTrue(metadata.contains("\"batchSize\":8"), metadata);
            assertTrue(fs.exists(new org.apache.hadoop.fs.Path(saved + "/model/model.safetensors")));
            assertTrue(fs.exists(new org.apache.hadoop.fs.Path(saved + "/adapter/adapter_model.safetensors")));

            // the executors copy the saved files from HDFS to local folders and load those
            List<Row> after = byId(loaded.transform(sentenceFrame()));
            assertEquals(before.size(), after.size());
            for (int i = 0; i < before.size(); i++) {
                assertEquals(before.get(i), after.get(i));
            }
        } finally {
            hdfs.shutdown();
        }
    }

    @Test
    void causalLmLossAndPerplexityPerRowEqualSingleProcessCrossEntropy() {
        Path llama = ScoringModels.tinyLlama(dir.resolve("tiny-llama"));
        List<long[][]> rows = TokenRows.mixed(new Random(8));
        StructType schema = TokenRows.SCHEMA;
        Dataset<Row> frame = TokenRows.frame(spark.session(), rows).repartition(2);
        FineTunedModel model = FineTunedModel.of(llama.toString(), null).setBatchSize(5);
        List<Row> scored = byId(model.transform(frame));

        Double[] expected = SingleProcessReference.meanTokenLosses(llama, rows);
        assertEquals(rows.size(), scored.size());
        int compared = 0;
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Row row = scored.get(i);
            Double loss = row.isNullAt(4) ? null : row.getDouble(4);
            Double perplexity = row.isNullAt(5) ? null : row.getDouble(5);
            if (expected[i] == null) {
                assertNull(loss, "row " + i);
                assertNull(perplexity, "row " + i);
                continue;
            }
            assertEquals(expected[i], loss, 1e-5 * expected[i], "loss of row " + i);
            assertEquals(Math.exp(expected[i]), perplexity, 1e-5 * Math.exp(expected[i]), "perplexity of row " + i);
            worst = Math.max(worst, Math.abs(loss - expected[i]) / expected[i]);
            compared++;
        }
        System.out.printf("causal LM on local-cluster vs single process: max relative loss difference %.2e%n", worst);
        assertEquals(rows.size() - TokenRows.UNSCORED, compared);
        assertEquals(List.of("id", "input_ids", "labels", "segment_ids", "loss", "perplexity"),
                Arrays.asList(model.transformSchema(schema).fieldNames()));
    }

    @Test
    void causalLmScoresATextColumnThroughItsTokenizer() throws Exception {
        Path llama = ScoringModels.tinyLlamaWithTokenizer(dir.resolve("tiny-llama-with-tokenizer"));
        List<String> texts = new ArrayList<>(sentences.subList(0, 12));
        texts.add(null);
        List<long[][]> asIds = new ArrayList<>();
        try (Tokenizer tokenizer = Tokenizer.load(llama)) {
            texts.forEach(t -> asIds.add(new long[][] {t == null ? null : tokenizer.encode(t), null, null}));
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            rows.add(RowFactory.create(i, texts.get(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
        List<Row> scored = byId(FineTunedModel.of(llama.toString(), null).setBatchSize(4)
                .transform(spark.session().createDataFrame(rows, schema).repartition(2)));

        Double[] expected = SingleProcessReference.meanTokenLosses(llama, asIds);
        for (int i = 0; i < texts.size(); i++) {
            if (expected[i] == null) {
                assertTrue(scored.get(i).isNullAt(2), "row " + i);
            } else {
                assertEquals(expected[i], scored.get(i).getDouble(2), 1e-5 * expected[i], "loss of row " + i);
            }
        }
        assertNull(expected[texts.size() - 1]);
    }

    @Test
    void causalLmGeneratesTheGreedyCompletionOfEachTextAsTheGeneratorDoesAlone() {
        Path llama = ScoringModels.tinyLlamaWithTokenizer(dir.resolve("tiny-llama-generating"));
        List<String> texts = new ArrayList<>(sentences.subList(0, 7));
        texts.add(null);
        List<String> expected = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizer.load(llama)) {
            Llama model = (Llama) ModelDirectory.open(llama).load(manager, DataType.FLOAT32);
            Generator generator = new Generator(model, StopTokens.padTokenId(tokenizer), ids -> tokenizer.decode(ids, true));
            GenerationConfig greedy = GenerationConfig.greedy(5).withStops(StopTokens.of(tokenizer, llama), List.of());
            for (String text : texts.subList(0, 7)) {
                expected.add(generator.generate(manager, List.of(tokenizer.encode(text)), greedy).get(0).text());
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            rows.add(RowFactory.create(i, texts.get(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
        FineTunedModel model = FineTunedModel.of(llama.toString(), null).setBatchSize(3).setMaxNewTokens(5);
        Dataset<Row> out = model.transform(spark.session().createDataFrame(rows, schema).repartition(2));
        assertEquals(List.of("id", "text", "loss", "perplexity", "generatedText"), List.of(out.columns()));
        List<Row> generated = byId(out);

        for (int i = 0; i < 7; i++) {
            assertEquals(expected.get(i), generated.get(i).getString(4), "row " + i + ": " + texts.get(i));
        }
        assertTrue(generated.get(7).isNullAt(4), "a null text gets no completion");
    }

    @Test
    void inASavedPipelineItLoadsBackThroughSparkMlsOwnReader() throws Exception {
        Path llama = ScoringModels.tinyLlama(dir.resolve("pipeline-llama"));
        // no shuffle, so both transforms batch the same rows together: a row's float32 loss depends in its last
        // bits on the padded length of its batch
        Dataset<Row> frame = TokenRows.frame(spark.session(), TokenRows.mixed(new Random(12)));
        FineTunedModel model = FineTunedModel.of(llama.toString(), null).setBatchSize(3).setLossCol("nll");
        PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {model}).fit(frame);
        String saved = dir.resolve("saved-pipeline").toUri().toString();
        pipeline.write().save(saved);

        PipelineModel loaded = PipelineModel.load(saved);
        FineTunedModel stage = (FineTunedModel) loaded.stages()[0];
        assertEquals("nll", stage.getLossCol());
        assertTrue(stage.getModelPath().matches("file:/.*/saved-pipeline/stages/0_fineTunedModel_\\w+/model"),
                stage.getModelPath());
        assertEquals(byId(model.transform(frame)), byId(loaded.transform(frame)));
    }

    @Test
    void aMissingInputColumnFailsNamingIt() {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("body", DataTypes.StringType);
        Dataset<Row> frame = spark.session().createDataFrame(List.of(RowFactory.create(1, "hello")), schema);
        FineTunedModel model = FineTunedModel.of(classifier.toString(), null);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.transform(frame));
        assertTrue(e.getMessage().startsWith("FineTunedModel: input column 'text' is not in the DataFrame"), e.getMessage());
        assertTrue(e.getMessage().contains("[id, body]"), e.getMessage());

        StructType ok = model.setInputCol("body").transformSchema(schema);
        assertEquals(List.of("id", "body", "prediction", "probability", "predictedLabel"), Arrays.asList(ok.fieldNames()));
        IllegalArgumentException clash = assertThrows(IllegalArgumentException.class,
                () -> model.setPredictionCol("id").transformSchema(schema));
        assertTrue(clash.getMessage().contains("output column 'id' already exists"), clash.getMessage());
    }

    @Test
    void aFolderThatIsNoModelFailsOnTheDriverNamingIt() {
        StructType schema = new StructType().add("text", DataTypes.StringType);
        IllegalArgumentException noModel = assertThrows(IllegalArgumentException.class,
                () -> FineTunedModel.of(dir.resolve("nothing-here").toString(), null).transformSchema(schema));
        assertTrue(noModel.getMessage().matches("FineTunedModel: modelPath file:/.*/nothing-here: no such folder;"
                + " it should be a Hugging Face model folder .*"), noModel.getMessage());

        IllegalArgumentException unset = assertThrows(IllegalArgumentException.class,
                () -> new FineTunedModel().transformSchema(schema));
        assertTrue(unset.getMessage().startsWith("FineTunedModel: modelPath is not set"), unset.getMessage());

        IllegalArgumentException noAdapter = assertThrows(IllegalArgumentException.class,
                () -> FineTunedModel.of(classifier.toString(), classifier.toString())
                        .transform(spark.session().createDataFrame(List.of(RowFactory.create("hi")), schema)));
        assertTrue(noAdapter.getMessage().contains("has no adapter_config.json; it should be a PEFT adapter folder"),
                noAdapter.getMessage());
    }

    // ---- FineTuner

    @Test
    void fineTunerFitsOnTheClusterAndItsModelScoresAsSingleProcessInferenceOnTheExport() throws Exception {
        Dataset<Row> training = topicRows();
        Path runs = dir.resolve("fine-tuner-runs");
        FineTuner tuner = topicTuner(runs, 20).setLoraRank(4);

        FineTunedModel model = tuner.fit(training).setBatchSize(8);

        assertEquals(tuner, model.parent());
        assertEquals(bareMiniLm().toString(), model.getModelPath());
        Path export = Path.of(java.net.URI.create(model.getAdapterPath()));
        assertEquals("adapter", export.getFileName().toString());
        Path fit = export.getParent();
        assertEquals(runs, fit.getParent());
        assertTrue(fit.getFileName().toString().matches("fit-\\d{8}-\\d{6}-[0-9a-f]{8}"), fit.toString());
        assertEquals(4, adapterRank(export), "the loraRank Param replaced the YAML's lora_rank 8");
        assertEquals(LabelsFile.numbered(3),
                LabelsFile.read(new Configuration(), fit.resolve(FineTuner.DATA_FOLDER).toString()).orElseThrow());
        List<Row> scored = byId(model.transform(sentenceFrame()));
        assertClassifierMatches(SingleProcessReference.classProbabilities(bareMiniLm(), export, sentences), scored,
                LabelsFile.numbered(3).labels());
        long correct = model.transform(training).collectAsList().stream()
                .filter(r -> r.getDouble(2) == r.getInt(1)).count();
        System.out.printf("FineTuner: LoRA on MiniLM, 20 steps of 2 x 4 rows on 2 executors: training accuracy %d/%d"
                + " (chance 1/3)%n", correct, training.count());
        assertTrue(correct >= training.count() / 2, "training accuracy " + correct + "/" + training.count());
    }

    @Test
    void aFullFineTuningFitReturnsTheWholeExportedModel() {
        FineTunedModel model = topicTuner(dir.resolve("full-runs"), 2).setFinetuningType("full").fit(topicRows());

        assertNull(model.getAdapterPath());
        Path export = Path.of(java.net.URI.create(model.getModelPath()));
        assertEquals("model", export.getFileName().toString());
        assertEquals(dir.resolve("full-runs"), export.getParent().getParent());
        List<Row> scored = byId(model.setBatchSize(8).transform(sentenceFrame()));
        assertClassifierMatches(SingleProcessReference.classProbabilities(export, null, sentences), scored,
                LabelsFile.numbered(3).labels());
    }

    @Test
    void crossValidatorTunesLoraRankOfAFineTunerAndItsBestModelScores() throws Exception {
        Dataset<Row> training = topicRows();
        Path runs = dir.resolve("cross-validated-runs");
        FineTuner tuner = topicTuner(runs, 6);
        ParamMap[] grid = new ParamGridBuilder().addGrid(tuner.loraRank(), new int[] {2, 4}).build();
        CrossValidator cv = new CrossValidator().setEstimator(tuner).setEstimatorParamMaps(grid).setNumFolds(2)
                .setSeed(7).setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy"));

        long start = System.nanoTime();
        CrossValidatorModel fitted = cv.fit(training);
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;

        double[] accuracy = fitted.avgMetrics();
        System.out.printf("CrossValidator over FineTuner: 2 folds x loraRank {2, 4} + the final fit in %d s, mean"
                + " validation accuracy %s%n", seconds, Arrays.toString(accuracy));
        assertEquals(2, accuracy.length);
        for (double a : accuracy) {
            assertTrue(a >= 0 && a <= 1, "accuracy " + a);
        }
        FineTunedModel best = (FineTunedModel) fitted.bestModel();
        int bestRank = accuracy[0] >= accuracy[1] ? 2 : 4;
        assertEquals(bestRank, ((FineTuner) best.parent()).getLoraRank());
        assertEquals(bestRank, adapterRank(Path.of(java.net.URI.create(best.getAdapterPath()))));
        // each of the 2 x 2 fold fits and the final fit trained in a folder of its own, from the pretrained weights
        List<Path> fits;
        try (Stream<Path> listing = Files.list(runs)) {
            fits = listing.filter(f -> f.getFileName().toString().startsWith(FineTuner.FIT_PREFIX)).toList();
        }
        assertEquals(5, fits.size(), fits.toString());
        for (Path f : fits) {
            assertTrue(Files.isRegularFile(f.resolve("adapter/adapter_config.json")), f.toString());
            assertTrue(Files.isDirectory(f.resolve("checkpoint-6")), f.toString());
        }

        List<Row> scored = fitted.transform(training).select("label", "prediction", "predictedLabel").collectAsList();
        assertEquals(training.count(), scored.size());
        for (Row row : scored) {
            assertEquals("LABEL_" + (int) row.getDouble(1), row.getString(2));
        }
    }

    @Test
    void anUnfittedPipelineHoldingAFineTunerSavesAndLoadsWithItsParams() throws Exception {
        FineTuner tuner = new FineTuner().setConfig("""
                model: {model_name_or_path: /models/minilm}
                method: {stage: cls, lora_rank: 8}
                train: {output_dir: /runs/spam}
                """).setOverrides("train.logging_steps=5").setLoraRank(4).setLearningRate(1e-3).setLabelCol("topic");
        String saved = dir.resolve("unfitted-pipeline").toUri().toString();
        new Pipeline().setStages(new PipelineStage[] {tuner}).write().save(saved);

        PipelineStage[] stages = Pipeline.load(saved).getStages();
        assertEquals(1, stages.length);
        FineTuner loaded = (FineTuner) stages[0];
        assertEquals(tuner.uid(), loaded.uid());
        assertEquals(tuner.params().length, loaded.params().length);
        for (Param<?> p : tuner.params()) {
            Param<Object> q = loaded.getParam(p.name());
            assertEquals(tuner.isSet(p), loaded.isSet(q), p.name());
            assertEquals(jsonValue(tuner, p), jsonValue(loaded, q), p.name());
        }
        assertEquals(4, loaded.getLoraRank());
        assertEquals(1e-3, loaded.getLearningRate());
        assertEquals("topic", loaded.getLabelCol());
        assertEquals(List.of("train.logging_steps=5"), List.of(loaded.getOverrides()));
    }

    // ---- checks and references

    /** The 60 topic sentences as tokenized rows of the bare all-MiniLM-L6-v2: input_ids, label (3 classes). */
    private static Dataset<Row> topicRows() {
        List<Row> rows = new ArrayList<>();
        try (Tokenizer tokenizer = Tokenizer.load(bareMiniLm())) {
            for (int label = 0; label < SUBJECTS.length; label++) {
                for (String subject : SUBJECTS[label]) {
                    for (String predicate : PREDICATES) {
                        long[] ids = tokenizer.encode(subject + " " + predicate + ".");
                        rows.add(RowFactory.create(Arrays.stream(ids).boxed().toList(), label));
                    }
                }
            }
        }
        StructType schema = new StructType()
                .add("input_ids", DataTypes.createArrayType(DataTypes.LongType, false))
                .add("label", DataTypes.IntegerType);
        return spark.session().createDataFrame(rows, schema);
    }

    /** LoRA (rank 8 in the YAML) on the bare MiniLM for {@code steps} steps of 2 ranks x 4 rows, checkpoint at the end. */
    private static FineTuner topicTuner(Path runs, int steps) {
        return new FineTuner().setConfig("""
                model: {model_name_or_path: %s}
                method: {stage: cls, finetuning_type: lora, lora_rank: 8, lora_target: [query, value]}
                train: {output_dir: %s, learning_rate: 2.0e-3, per_device_train_batch_size: 4, max_steps: %d,
                        save_steps: %d, logging_steps: 5}
                dist: {world_size: 2}
                """.formatted(bareMiniLm(), runs, steps, steps));
    }

    /** all-MiniLM-L6-v2 without a classifier head, imported once for the class. */
    private static synchronized Path bareMiniLm() {
        if (bare == null) {
            bare = ImportedMiniLm.importTo(dir.resolve("bare-minilm"));
        }
        return bare;
    }

    private static int adapterRank(Path adapterFolder) throws Exception {
        String json = Files.readString(adapterFolder.resolve(PeftFormat.CONFIG_FILE));
        return JsonParser.parseString(json).getAsJsonObject().get("r").getAsInt();
    }

    @SuppressWarnings("unchecked")
    private static String jsonValue(Params owner, Param<?> param) {
        return owner.isDefined(param) ? ((Param<Object>) param).jsonEncode(owner.getOrDefault(param)) : null;
    }

    /** Probabilities within 1e-5 of the reference, prediction its argmax, predictedLabel that class's name. */
    private static void assertClassifierMatches(double[][] expected, List<Row> scored, List<String> names) {
        assertEquals(41, sentences.size());
        assertEquals(sentences.size(), scored.size());
        double maxDiff = 0;
        for (int i = 0; i < sentences.size(); i++) {
            Row row = scored.get(i);
            assertEquals(i, row.getInt(0));
            assertEquals(sentences.get(i), row.getString(1));
            if (expected[i] == null) {
                assertTrue(row.isNullAt(2) && row.isNullAt(3) && row.isNullAt(4), "a null text gives null outputs");
                continue;
            }
            double[] p = ((Vector) row.get(3)).toArray();
            assertEquals(ScoringModels.CLASSES, p.length);
            for (int c = 0; c < p.length; c++) {
                maxDiff = Math.max(maxDiff, Math.abs(p[c] - expected[i][c]));
            }
            assertEquals(argMax(expected[i]), row.getDouble(2), "prediction of row " + i);
            assertEquals(names.get(argMax(expected[i])), row.getString(4), "predictedLabel of row " + i);
        }
        System.out.printf("classifier on local-cluster vs single process: max |probability difference| %.2e%n", maxDiff);
        assertTrue(maxDiff <= 1e-5, "max |probability difference| " + maxDiff);
    }

    private static int argMax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            best = values[i] > values[best] ? i : best;
        }
        return best;
    }

    private static List<Row> byId(Dataset<Row> scored) {
        List<Row> rows = new ArrayList<>(scored.collectAsList());
        rows.sort((a, b) -> Integer.compare(a.getInt(0), b.getInt(0)));
        return rows;
    }
}
