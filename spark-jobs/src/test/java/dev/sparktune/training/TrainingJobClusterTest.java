package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.ml.FineTunedModel;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.testing.MiniHdfs;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
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
 * The training job on {@code local-cluster[2,1,…]}: two executor JVMs, one rank each, gradients over the TCP ring.
 * Each run's parameters are compared with the same job run in this one process (its two ranks as threads over the
 * in-process collective, whose equality with one rank of the same global batch the engine's own tests establish).
 */
@Tag("integration")
class TrainingJobClusterTest {
    @RegisterExtension
    static final SparkClusterExtension SPARK = SparkClusterExtension.localCluster(2, 1024);

    @RegisterExtension
    static final MiniHdfs HDFS = new MiniHdfs();

    @TempDir
    static Path dir;

    private static Path llama;
    private static Path llamaData;

    @BeforeAll
    static void writeTinyLlamaAndData() {
        llama = TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        llamaData = dir.resolve("llama-data");
        TrainingRuns.writeTokenized(llamaData, rows, 8);
    }

    private static LoadedConfig llamaJob(Path output, String... more) {
        return llamaJob(llama.toString(), llamaData.toString(), output.toString(), more);
    }

    private static LoadedConfig llamaJob(String model, String data, String output, String... more) {
        List<String> overrides = new ArrayList<>(List.of("model.model_name_or_path=" + model, "model.compute_dtype=float64",
                "data.tokenized_path=" + data, "method.stage=sft", "method.finetuning_type=lora",
                "method.lora_rank=4", "method.lora_target=q_proj,v_proj,down_proj", "train.output_dir=" + output,
                "train.learning_rate=5e-3", "train.warmup_steps=2", "train.lr_scheduler_type=cosine",
                "train.per_device_train_batch_size=2", "train.gradient_accumulation_steps=2", "train.max_steps=10",
                "train.save_steps=4", "train.logging_steps=2", "dist.world_size=2", "dist.zero_stage=1",
                "dist.reduce_bucket_size=700", "dist.collective_timeout_seconds=30"));
        overrides.addAll(List.of(more));
        return TrainingRuns.config(overrides);
    }

    @Test
    void loraOnATinyLlamaEqualsTheSameJobInOneProcessAndReportsProgress() throws Exception {
        TrainingOutcome spark = TrainingJob.run(SPARK.session(), llamaJob(dir.resolve("llama-spark")));
        LoadedConfig reference = llamaJob(dir.resolve("llama-reference"));
        TrainingRuns.runInProcess(reference);

        assertEquals(10, spark.steps());
        assertEquals(1, spark.stageAttempts());
        assertEquals(null, spark.resumedFrom());
        SortedMap<String, double[]> trained = TrainingRuns.tensors(spark.checkpoint());
        double diff = TrainingRuns.maxRelativeDifference(trained,
                TrainingRuns.tensors(dir.resolve("llama-reference/checkpoint-10")));
        System.out.printf("tiny Llama LoRA, 2 executors vs 2 in-process ranks, float64: max relative difference %.2e%n",
                diff);
        assertTrue(diff <= 1e-12, "max relative difference " + diff);
        TrainingRuns.runOneRank(llamaJob(dir.resolve("llama-one-rank")));
        double oneRank = TrainingRuns.maxRelativeDifference(trained,
                TrainingRuns.tensors(dir.resolve("llama-one-rank/checkpoint-10")));
        System.out.printf("tiny Llama LoRA, 2 executors vs one rank with the global batch, float64: max relative"
                + " difference %.2e%n", oneRank);
        assertTrue(oneRank <= 1e-12, "max relative difference to one rank " + oneRank);

        List<ProgressUpdate> progress = spark.progress();
        assertEquals(List.of(2L, 4L, 6L, 8L, 10L), progress.stream().map(ProgressUpdate::step).toList(),
                "rank 0 reports every logging_steps to the driver");
        assertTrue(progress.stream().allMatch(p -> p.totalSteps() == 10 && Double.isFinite(p.loss())
                && p.tokensPerSecond() > 0));
    }

    @Test
    void modelDataAndCheckpointsOnHdfsWorkEndToEnd() throws Exception {
        FileSystem fs = HDFS.fileSystem();
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(llama.toUri()), new org.apache.hadoop.fs.Path(HDFS.uri("/models/llama")));
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(llamaData.toUri()),
                new org.apache.hadoop.fs.Path(HDFS.uri("/data/tokenized")));
        String output = HDFS.uri("/runs/llama");
        TrainingOutcome spark = TrainingJob.run(SPARK.session(),
                llamaJob(HDFS.uri("/models/llama"), HDFS.uri("/data/tokenized"), output));
        TrainingRuns.runInProcess(llamaJob(dir.resolve("llama-local")));

        assertEquals(output + "/checkpoint-10", spark.checkpoint());
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(output + "/checkpoint-8/_SUCCESS")));
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(output + "/metrics.jsonl")));
        assertEquals(output + "/adapter", spark.export());
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(output + "/adapter/adapter_config.json")));
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path(output + "/adapter/adapter_model.safetensors")));
        double diff = TrainingRuns.maxRelativeDifference(TrainingRuns.tensors(HDFS.conf(), spark.checkpoint()),
                TrainingRuns.tensors(dir.resolve("llama-local/checkpoint-10")));
        System.out.printf("tiny Llama LoRA with model, data and checkpoints on HDFS vs local files in one process:"
                + " max relative difference %.2e%n", diff);
        assertTrue(diff <= 1e-12, "max relative difference " + diff);
    }

    @Test
    void aWorldLargerThanTheFreeTaskSlotsFailsInSecondsWithWhatToChange() {
        long started = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ClusterPreflight.awaitSlots(SPARK.session().sparkContext(), 3, Duration.ofSeconds(2)));
        double seconds = (System.nanoTime() - started) / 1e9;
        assertTrue(e.getMessage().contains("dist.world_size is 3") && e.getMessage().contains("has 2 free"), e.getMessage());
        assertTrue(e.getMessage().contains("lower dist.world_size"), e.getMessage());
        assertTrue(seconds < 10, "took " + seconds + " s");
        ClusterPreflight.awaitSlots(SPARK.session().sparkContext(), 2, Duration.ofSeconds(2));   // enough: returns
    }

    @Test
    void aRankWhoseExecutorDiesIsRetriedAndTheRunResumesFromItsLastCheckpoint() throws Exception {
        TrainingOutcome interrupted = TrainingJob.run(SPARK.session(), llamaJob(dir.resolve("llama-killed")),
                new FaultInjection(1, 6));
        LoadedConfig straight = llamaJob(dir.resolve("llama-straight"));
        TrainingRuns.runInProcess(straight);

        assertTrue(interrupted.stageAttempts() >= 2, "the stage was retried: " + interrupted.stageAttempts());
        assertEquals(TrainingRuns.location(dir.resolve("llama-killed/checkpoint-4")), interrupted.resumedFrom());
        assertEquals(10, interrupted.steps());
        double diff = TrainingRuns.maxRelativeDifference(TrainingRuns.tensors(interrupted.checkpoint()),
                TrainingRuns.tensors(dir.resolve("llama-straight/checkpoint-10")));
        System.out.printf("tiny Llama LoRA, executor of rank 1 killed after step 6, resumed from checkpoint-4:"
                + " max relative difference to an uninterrupted run %.2e%n", diff);
        assertTrue(diff <= 1e-12, "max relative difference " + diff);
    }

    @Test
    void loraOnMiniLmClassificationEqualsTheSameJobInOneProcess() throws Exception {
        Path miniLm = ImportedMiniLm.importTo(dir.resolve("minilm"));
        Path data = dir.resolve("minilm-data");
        List<TokenizedRow> rows = new ArrayList<>();
        String[][] topics = {{"scored a goal", "won the match", "lost the final"},
            {"baked bread", "grilled the fish", "served soup"}, {"crashed again", "needs more memory", "lost the connection"}};
        String[] subjects = {"the team", "my aunt", "the server", "our neighbour"};
        try (Tokenizer tokenizer = Tokenizer.load(miniLm)) {
            for (int label = 0; label < 3; label++) {
                for (String subject : subjects) {
                    for (String predicate : topics[label]) {
                        rows.add(new TokenizedRow(tokenizer.encode(subject + " " + predicate + "."), null, null,
                                (long) label, null));
                    }
                }
            }
        }
        TrainingRuns.writeTokenized(data, rows, 6);
        Files.writeString(data.resolve(dev.sparktune.io.LabelsFile.NAME),
                "{\"id2label\": {\"0\": \"sport\", \"1\": \"food\", \"2\": \"tech\"}}", StandardCharsets.UTF_8);

        // with dropout: each rank draws its own masks, the same in an executor as in a thread of this process
        TrainingOutcome spark = TrainingJob.run(SPARK.session(), miniLmJob(miniLm, data, "minilm-spark"));
        TrainingRuns.runInProcess(miniLmJob(miniLm, data, "minilm-reference"));
        double diff = TrainingRuns.maxRelativeDifference(TrainingRuns.tensors(spark.checkpoint()),
                TrainingRuns.tensors(dir.resolve("minilm-reference/checkpoint-6")));
        System.out.printf("MiniLM LoRA classifier, 2 executors vs 2 in-process ranks, float32: max relative difference"
                + " %.2e%n", diff);
        assertTrue(diff <= 1e-5, "max relative difference " + diff);

        // without dropout (one rank cannot draw two ranks' masks) and in float64 (in float32, Adam turns the rounding
        // of near-zero gradients into relative differences of 1e-5 and more in LoRA's zero-started lora_B):
        // 2 executors at ZeRO stage 3 (every parameter partitioned between them) against one rank of the global
        // batch
        Path noDropout = TrainingRuns.withoutDropout(miniLm, dir.resolve("minilm-no-dropout"));
        TrainingOutcome sparkNoDropout = TrainingJob.run(SPARK.session(),
                miniLmJob(noDropout, data, "minilm-spark-no-dropout", "model.compute_dtype=float64",
                        "dist.zero_stage=3"));
        TrainingRuns.runOneRank(miniLmJob(noDropout, data, "minilm-one-rank", "model.compute_dtype=float64"));
        SortedMap<String, double[]> trained = TrainingRuns.tensors(sparkNoDropout.checkpoint());
        SortedMap<String, double[]> single = TrainingRuns.tensors(dir.resolve("minilm-one-rank/checkpoint-6"));
        double oneRank = TrainingRuns.maxRelativeDifference(trained, single);
        System.out.printf("MiniLM LoRA classifier without dropout, 2 executors at ZeRO 3 vs one rank with the global"
                + " batch, float64: max relative difference %.2e, largest in %s%n", oneRank,
                TrainingRuns.worstTensor(trained, single));
        assertTrue(oneRank <= 1e-12, "max relative difference to one rank " + oneRank);
    }

    @Test
    void twoClassificationTasksOnOneEncoderEqualOneRankAndEachHeadIsExported() throws Exception {
        Path miniLm = TrainingRuns.withoutDropout(ImportedMiniLm.importTo(dir.resolve("minilm-for-tasks")),
                dir.resolve("minilm-tasks-no-dropout"));
        Path data = dir.resolve("two-tasks");
        String[] subjects = {"the team", "my aunt", "the server", "our neighbour"};
        String[][] topics = {{"scored a goal", "won the match", "lost the final"},
            {"baked bread", "grilled the fish", "served soup"}, {"crashed again", "needs more memory", "lost the connection"}};
        String[][] moods = {{"is happy today", "smiled at everyone", "laughed a lot"},
            {"cried all night", "feels lonely", "is very sad"}};
        try (Tokenizer tokenizer = Tokenizer.load(miniLm)) {
            writeClassificationTask(data.resolve("task=topic"), tokenizer, subjects, topics);
            writeClassificationTask(data.resolve("task=mood"), tokenizer, subjects, moods);
        }
        Configuration conf = new Configuration();
        new LabelsFile(List.of("sport", "food", "tech")).write(conf, data.resolve("task=topic").toString());
        new LabelsFile(List.of("glad", "sad")).write(conf, data.resolve("task=mood").toString());

        String[] float64 = {"model.compute_dtype=float64", "train.per_device_train_batch_size=2"};
        TrainingOutcome spark = TrainingJob.run(SPARK.session(), miniLmJob(miniLm, data, "two-tasks-spark", float64));
        TrainingRuns.runOneRank(miniLmJob(miniLm, data, "two-tasks-one-rank", float64));
        SortedMap<String, double[]> trained = TrainingRuns.tensors(spark.checkpoint());
        SortedMap<String, double[]> single = TrainingRuns.tensors(dir.resolve("two-tasks-one-rank/checkpoint-6"));
        double diff = TrainingRuns.maxRelativeDifference(trained, single);
        System.out.printf("MiniLM LoRA, two classification tasks, 2 executors vs one rank with the global batch,"
                + " float64: max relative difference %.2e, largest in %s%n", diff, TrainingRuns.worstTensor(trained, single));
        assertTrue(diff <= 1e-12, "max relative difference to one rank " + diff);
        // one head per task on the shared encoder: the first task in name order (mood) has classifier
        assertEquals(2 * 384, trained.get("classifier.weight").length);
        assertEquals(3 * 384, trained.get("classifier_topic.weight").length);

        // each task's own export: its head as classifier, its class names in config.json
        for (Map.Entry<String, List<String>> task : Map.of("mood", List.of("glad", "sad"), "topic",
                List.of("sport", "food", "tech")).entrySet()) {
            Path adapter = dir.resolve("two-tasks-spark/tasks/" + task.getKey() + "/adapter");
            String config = Files.readString(adapter.resolve("config.json"));
            assertEquals(task.getValue(), LabelsFile.fromJson(config, "config.json").orElseThrow().labels());
            assertTrue(config.contains("BertForSequenceClassification"), config);
            try (NDManager manager = NDManager.newBaseManager();
                 SafetensorsFile file = SafetensorsFile.open(adapter.resolve(PeftFormat.WEIGHTS_FILE))) {
                SortedMap<String, NDArray> tensors = file.loadAll(manager);
                assertEquals(task.getValue().size(), tensors.get("base_model.model.classifier.weight").getShape().get(0));
                assertTrue(tensors.keySet().stream().noneMatch(k -> k.contains("classifier_")), tensors.keySet().toString());
                // the task's head, moved under the name Hugging Face's BertForSequenceClassification loads
                String trainedHead = task.getKey().equals("mood") ? "classifier.weight" : "classifier_topic.weight";
                assertTrue(java.util.Arrays.equals(trained.get(trainedHead), tensors.get("base_model.model.classifier.weight")
                        .toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray()));
            }
            // loadable as a plain classifier: FineTunedModel on the base model and this adapter names the classes
            Dataset<Row> texts = SPARK.session().createDataFrame(List.of(RowFactory.create("the team scored a goal."),
                    RowFactory.create("my aunt cried all night.")), new StructType().add("text", DataTypes.StringType));
            for (Row scored : FineTunedModel.of(miniLm.toString(), adapter.toString()).transform(texts)
                    .select("prediction", "predictedLabel").collectAsList()) {
                assertEquals(task.getValue().get((int) scored.getDouble(0)), scored.getString(1));
            }
        }
    }

    @Test
    void interleaveProbabilitiesGiveEachTaskItsShareOfTheTrainedRows() throws Exception {
        Path data = dir.resolve("mixed-tasks");
        Random random = new Random(11);
        for (String task : List.of("a", "b")) {
            List<TokenizedRow> rows = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                long[] ids = random.longs(4 + random.nextInt(5), 1, 61).toArray();
                rows.add(new TokenizedRow(ids, ids.clone(), null, null, null));
            }
            TrainingRuns.writeTokenized(data.resolve("task=" + task), rows, 8);
        }
        Path registry = dir.resolve("mixed-registry");
        Files.createDirectories(registry);
        Files.writeString(registry.resolve("dataset_info.yaml"), "a:\n  file_name: a.jsonl\nb:\n  file_name: b.jsonl\n");
        // 3000 steps of one micro-batch, each drawing task a with probability 0.8 (both ranks draw the same task):
        // the share's standard deviation is 0.0073, so 0.02 is 2.7 of them
        TrainingJob.run(SPARK.session(), llamaJob(llama.toString(), data.toString(), dir.resolve("mixed-run").toString(),
                "data.dataset=a,b", "data.dataset_dir=" + registry, "data.mix_strategy=interleave_over",
                "data.interleave_probs=0.8,0.2", "train.per_device_train_batch_size=1",
                "train.gradient_accumulation_steps=1", "train.max_steps=3000", "train.save_steps=3000",
                "train.logging_steps=3000"));
        List<String> metrics = Files.readAllLines(dir.resolve("mixed-run/metrics.jsonl"));
        JsonObject last = JsonParser.parseString(metrics.get(metrics.size() - 1)).getAsJsonObject();
        double a = last.get("rows/a").getAsDouble();
        double b = last.get("rows/b").getAsDouble();
        System.out.printf("interleave_probs 0.8/0.2 over %d rows: task a took %.4f of them%n", (long) (a + b), a / (a + b));
        assertEquals(6000, a + b);
        assertEquals(0.8, a / (a + b), 0.02);
    }

    private static void writeClassificationTask(Path folder, Tokenizer tokenizer, String[] subjects, String[][] classes) {
        List<TokenizedRow> rows = new ArrayList<>();
        for (int label = 0; label < classes.length; label++) {
            for (String subject : subjects) {
                for (String predicate : classes[label]) {
                    rows.add(new TokenizedRow(tokenizer.encode(subject + " " + predicate + "."), null, null,
                            (long) label, null));
                }
            }
        }
        TrainingRuns.writeTokenized(folder, rows, 6);
    }

    private static LoadedConfig miniLmJob(Path model, Path data, String output, String... more) {
        List<String> overrides = new ArrayList<>(List.of("model.model_name_or_path=" + model, "data.tokenized_path=" + data,
                "method.stage=cls", "method.finetuning_type=lora", "method.lora_rank=8", "method.lora_target=query,value",
                "train.learning_rate=1e-4", "train.per_device_train_batch_size=4", "train.max_steps=6",
                "train.save_steps=6", "train.logging_steps=3", "dist.world_size=2", "dist.zero_stage=2",
                "dist.collective_timeout_seconds=60", "train.output_dir=" + dir.resolve(output)));
        overrides.addAll(List.of(more));
        return TrainingRuns.config(overrides);
    }
}
