package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.PrefixTuning;
import dev.sparktune.peft.PromptTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.ClassificationLoss;
import dev.sparktune.train.InterleavedShards;
import dev.sparktune.train.LoadedCheckpoint;
import dev.sparktune.train.MetricsLog;
import dev.sparktune.train.MixStrategy;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepMetrics;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * N ranks (threads of this JVM, each with its own model replica), each reading its own share of the row groups with
 * micro-batches of b rows, give the parameters one rank gives with micro-batches of N x b rows over the same global
 * order ({@link InterleavedShards}: the ranks' micro-batches side by side), for every ZeRO stage. Float64 models, so
 * that the only difference, the order of summation, stays at rounding level. Dropout is off: ranks draw their own
 * masks.
 */
class DataParallelTrainingTest {
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT64);
    private static final Method LORA = new Lora(4, 8, 0.0, List.of("q_proj", "v_proj", "down_proj"), false, false, List.of());

    @TempDir
    static Path dir;

    /** Rows per Parquet file (one row group each): uneven, so the larger shares have rows to drop. */
    private static final int[] GROUP_ROWS = {5, 3, 4, 2, 6, 4, 3, 5, 4, 7, 5};

    private static Path modelDir;
    private static TrainingTask lmTask;

    @BeforeAll
    static void writeModelAndData() {
        modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
        Random random = new Random(2);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            labels[1] = i % 2 == 0 ? -100 : labels[1];
            rows.add(new TokenizedRow(ids, labels, null, null, null));
        }
        lmTask = new TrainingTask("train", writeGroups(dir.resolve("data"), rows, GROUP_ROWS), LM);
    }

    /** {@code rows} written as one file per entry of {@code sizes}, each file one row group of that many rows. */
    private static TrainingData writeGroups(Path folder, List<TokenizedRow> rows, int... sizes) {
        Configuration conf = new Configuration();
        int from = 0;
        for (int g = 0; g < sizes.length; g++) {
            TokenizedParquet.write(conf, folder.resolve("part-%05d.parquet".formatted(g)).toString(),
                    rows.subList(from, from + sizes[g]), 1 << 16);
            from += sizes[g];
        }
        assertEquals(rows.size(), from);
        assertEquals(sizes.length, TokenizedParquet.rowGroups(conf, folder.toString()).size());
        return TrainingData.open(conf, folder.toString());
    }

    /**
     * One rank's task that trains, with micro-batches of 8 rows, on the rows {@code ranks} ranks with 8 / ranks rows
     * each train on.
     */
    private static TrainingTask reference(TrainingTask task, int ranks) {
        long seed = job(1, 0, 8).train().seed();
        return new TrainingTask(task.name(), new InterleavedShards(task.data(), seed, ranks, 8 / ranks), task.objective());
    }

    private static JobConfig job(int worldSize, int stage, int perDevice, String... more) {
        List<String> overrides = new ArrayList<>(List.of("train.learning_rate=5e-3", "train.weight_decay=0.01",
                "train.warmup_steps=2", "train.lr_scheduler_type=cosine", "train.max_grad_norm=0.5",
                "train.gradient_accumulation_steps=2", "train.per_device_train_batch_size=" + perDevice,
                "train.save_steps=10", "train.logging_steps=1", "dist.world_size=" + worldSize,
                "dist.zero_stage=" + stage, "dist.reduce_bucket_size=700"));
        overrides.addAll(List.of(more));
        return ConfigLoader.parse("", "test", overrides).job();
    }

    /** How the ranks of a test talk: the in-process collective, or the TCP ring over loopback. */
    enum Transport {
        THREADS, RING;

        /** One way to obtain each rank's collective, to be called on that rank's thread. */
        List<Callable<Collective>> connect(int ranks) {
            if (this == THREADS) {
                return InProcessCollective.group(ranks).stream().map(c -> (Callable<Collective>) () -> c).toList();
            }
            RingOptions options = RingOptions.defaults().withNetworkCidr("127.0.0.0/8").withTimeout(Duration.ofSeconds(60));
            List<RingListener> listeners = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                listeners.add(RingListener.bind(options));
            }
            List<String> addresses = listeners.stream().map(RingListener::address).toList();
            byte[] secret = "a test job's secret, 32 bytes...".getBytes(StandardCharsets.UTF_8);
            List<Callable<Collective>> out = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                out.add(() -> RingCollective.connect(listeners.get(rank), rank, addresses, secret, options));
            }
            return out;
        }
    }

    private static SortedMap<String, double[]> train(int ranks, int stage, Method method, Path out, long stopAfter,
                                                     Optional<Path> resume, String... more) throws Exception {
        return train(Transport.THREADS, ranks, stage, method, out, stopAfter, resume, more);
    }

    private static SortedMap<String, double[]> train(Transport transport, int ranks, int stage, Method method, Path out,
                                                     long stopAfter, Optional<Path> resume, String... more)
            throws Exception {
        return train(transport, ranks, stage, m -> tinyLlama(method, m), lmTask, out, stopAfter, resume, more);
    }

    private static PeftModel tinyLlama(Method method, NDManager manager) {
        return PeftModel.apply(ModelDirectory.open(modelDir).load(manager, DataType.FLOAT64), method, manager, 7);
    }

    private static SortedMap<String, double[]> train(Transport transport, int ranks, int stage,
                                                     Function<NDManager, PeftModel> replica, TrainingTask task, Path out,
                                                     long stopAfter, Optional<Path> resume, String... more)
            throws Exception {
        return train(transport, ranks, stage, replica, List.of(task), TaskMix.concat(), List.of(), out, stopAfter, resume,
                more);
    }

    /**
     * Final trainable tensors of rank 0, after checking that every rank ended with the same bits. With
     * {@code validation} tasks, the ranks validate on them as the eval keys in {@code more} say.
     */
    private static SortedMap<String, double[]> train(Transport transport, int ranks, int stage,
                                                     Function<NDManager, PeftModel> replica, List<TrainingTask> tasks,
                                                     TaskMix mix, List<TrainingTask> validation, Path out,
                                                     long stopAfter, Optional<Path> resume, String... more)
            throws Exception {
        int perDevice = 8 / ranks;
        JobConfig job = job(ranks, stage, perDevice, more);
        List<Callable<Collective>> group = transport.connect(ranks);
        ExecutorService threads = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<SortedMap<String, double[]>>> results = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                Callable<Collective> connect = group.get(r);
                results.add(threads.submit(() -> {
                    Collective collective = connect.call();
                    try (NDManager manager = NDManager.newBaseManager()) {
                        PeftModel model = replica.apply(manager);
                        Trainer.Run run = new Trainer.Run(tasks, mix, OutputFolder.local(out),
                                resume.map(p -> OutputFolder.local(p).location()));
                        Trainer trainer = new Trainer(model, job.train(), 0).withDataParallel(collective, job.dist());
                        if (!validation.isEmpty()) {
                            trainer = trainer.withValidation(validation, job.eval());
                        }
                        trainer.train(stopAfter == Long.MAX_VALUE ? run : run.stoppingAfter(stopAfter), manager);
                        SortedMap<String, double[]> values = new TreeMap<>();
                        model.trainableTensors().forEach((k, v) -> values.put(k,
                                v.toType(DataType.FLOAT64, false).toDoubleArray()));
                        return values;
                    } finally {
                        collective.close();
                    }
                }));
            }
            List<SortedMap<String, double[]>> all = new ArrayList<>();
            for (Future<SortedMap<String, double[]>> f : results) {
                all.add(f.get());
            }
            for (int r = 1; r < ranks; r++) {
                assertEquals(0.0, maxRelativeDifference(all.get(0), all.get(r)), "rank " + r + " differs from rank 0");
            }
            return all.get(0);
        } finally {
            threads.shutdownNow();
        }
    }

    /**
     * The largest, over tensors, of ||a - b|| / ||a|| (Frobenius norms): the relative difference of each tensor as a
     * whole. Elementwise ratios would mostly measure Adam's normalisation, which turns a rounding-level gradient
     * difference on an element with a near-zero gradient into a step of up to the learning rate.
     */
    private static String worstTensor;

    private static double maxRelativeDifference(SortedMap<String, double[]> a, SortedMap<String, double[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double worst = 0;
        for (String k : a.keySet()) {
            double[] x = a.get(k);
            double[] y = b.get(k);
            double difference = 0;
            double norm = 0;
            for (int i = 0; i < x.length; i++) {
                difference += (x[i] - y[i]) * (x[i] - y[i]);
                norm += x[i] * x[i];
            }
            double relative = Math.sqrt(difference) / Math.max(Math.sqrt(norm), 1e-300);
            if (relative > worst) {
                worst = relative;
                worstTensor = k;
            }
        }
        return worst;
    }

    @ParameterizedTest(name = "{0}, {1} ranks, ZeRO stage {2}")
    @CsvSource({"lora, 2, 0", "lora, 2, 1", "lora, 2, 2", "lora, 2, 3", "lora, 4, 0", "lora, 4, 1", "lora, 4, 2",
        "lora, 4, 3", "full, 2, 0", "full, 2, 1", "full, 2, 2", "full, 2, 3", "full, 4, 0", "full, 4, 1", "full, 4, 2",
        "full, 4, 3"})
    void nRanksTrainAsOneRankWithTheSameGlobalBatch(String methodName, int ranks, int stage) throws Exception {
        Method method = methodName.equals("lora") ? LORA : new FullFineTuning();
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, m -> tinyLlama(method, m),
                reference(lmTask, ranks), dir.resolve("one-" + methodName + ranks + stage), Long.MAX_VALUE,
                Optional.empty(), "train.max_steps=20");
        SortedMap<String, double[]> many = train(ranks, stage, method, dir.resolve("n-" + methodName + ranks + stage),
                Long.MAX_VALUE, Optional.empty(), "train.max_steps=20");
        double difference = maxRelativeDifference(one, many);
        System.out.printf("%s, %d ranks, stage %d vs one rank after 20 steps: max relative difference %.3g%n",
                methodName, ranks, stage, difference);
        assertTrue(difference <= 1e-14, "relative difference " + difference);
    }

    @ParameterizedTest(name = "MiniLM {0}, {1} ranks, ZeRO stage {2}")
    @CsvSource({"lora, 2, 0", "lora, 4, 1", "lora, 2, 2", "full, 4, 0", "full, 2, 1", "full, 4, 2"})
    void miniLmClassifierOnNRanksTrainsAsOneRankInFloat32(String methodName, int ranks, int stage) throws Exception {
        Path miniLm = miniLmWithoutDropout();
        Method method = methodName.equals("lora")
                ? new Lora(8, 16, 0.0, List.of("query", "value"), false, false, List.of()) : new FullFineTuning();
        Function<NDManager, PeftModel> replica = m -> PeftModel.apply(
                ((Bert) ModelDirectory.open(miniLm).load(m, DataType.FLOAT32)).withClassifier(2, m, 3), method, m, 7);
        Random random = new Random(5);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            long[] ids = random.longs(5 + random.nextInt(10), 2000, 8000).toArray();
            ids[0] = 101;   // [CLS]
            rows.add(new TokenizedRow(ids, null, null, (long) (ids[1] % 2), null));
        }
        Path folder = dir.resolve("minilm-data");
        TrainingData groups = Files.exists(folder) ? TrainingData.open(new Configuration(), folder.toString())
                : writeGroups(folder, rows, 5, 3, 4, 4, 6, 2, 4, 4);
        Objective classify = new Objective.Classification(ClassificationLoss.PLAIN);
        TrainingTask task = new TrainingTask("topics", groups, classify);

        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, replica, reference(task, ranks),
                dir.resolve("minilm-one-" + methodName + ranks + stage),
                Long.MAX_VALUE, Optional.empty(), "train.max_steps=20", "train.learning_rate=1e-4");
        SortedMap<String, double[]> two = train(Transport.THREADS, ranks, stage, replica, task,
                dir.resolve("minilm-" + ranks + "-" + stage + "-" + methodName), Long.MAX_VALUE, Optional.empty(),
                "train.max_steps=20",
                "train.learning_rate=1e-4", "dist.reduce_bucket_size=2000000");
        // A key bias adds the same q.b_k to every score of a query, which softmax ignores: its true gradient is 0, so
        // float32 gives it rounding noise, which Adam scales up to steps of the learning rate in arbitrary directions
        // (one rank and two ranks alike, at every ZeRO stage). It is compared in the float64 tests instead.
        one.keySet().removeIf(name -> name.endsWith("attention.self.key.bias"));
        two.keySet().removeIf(name -> name.endsWith("attention.self.key.bias"));
        double difference = maxRelativeDifference(one, two);
        System.out.printf("MiniLM %s, %d ranks, stage %d vs one rank after 20 steps (float32): max relative difference"
                + " %.3g (%s)%n", methodName, ranks, stage, difference, worstTensor);
        assertTrue(difference <= 1e-4, "relative difference " + difference);
    }

    /**
     * Two classification tasks, each with its own head on one encoder ({@code classifier}, {@code classifier_topic}),
     * mixed by interleave_probs, validated every 4 steps on two held-out splits, one of them a single row group that
     * leaves rank 1's share empty: 2 ranks end with the parameters of one rank with the global batch, and log the same
     * row counts and validation metrics. At stage 3 every parameter is partitioned, the heads too, and gathered for
     * validation as well.
     */
    @ParameterizedTest(name = "ZeRO stage {0}")
    @ValueSource(ints = {1, 3})
    void twoClassificationHeadsOnTwoRanksTrainAsOneRankWithTheGlobalBatch(int stage) throws Exception {
        Path bert = TinyModels.writeRandom(dir.resolve("bert-two-heads-" + stage), TinyModels.bertJson().replace("\"hidden_act\"",
                "\"hidden_dropout_prob\": 0.0, \"attention_probs_dropout_prob\": 0.0, \"hidden_act\""), 5);
        Function<NDManager, PeftModel> replica = m -> PeftModel.apply(
                ((Bert) ModelDirectory.open(bert).load(m, DataType.FLOAT64)).withClassifier("classifier", 2, m, 1)
                        .withClassifier("classifier_topic", 3, m, 2), new FullFineTuning(), m, 7);
        Objective spam = new Objective.Classification(ClassificationLoss.PLAIN);
        Objective topic = new Objective.Classification(ClassificationLoss.PLAIN, "classifier_topic");
        List<TrainingTask> tasks = List.of(
                new TrainingTask("spam", writeGroups(dir.resolve("heads" + stage + "/spam"), labelled(48, 2, 1), GROUP_ROWS),
                        spam),
                new TrainingTask("topic", writeGroups(dir.resolve("heads" + stage + "/topic"), labelled(40, 3, 2), 6, 4, 5,
                        3, 7, 5, 4, 6), topic));
        List<TrainingTask> validation = List.of(
                // 9 rows: shares of 5 and 4, so 2 and 1 batches of 4; rank 1 tops up with a forward (at stage 3 one
                // that gathers parameters, without which rank 0 would wait for it)
                new TrainingTask("spam", writeGroups(dir.resolve("heads" + stage + "/spam-held"), labelled(9, 2, 3), 9),
                        spam),
                new TrainingTask("topic", writeGroups(dir.resolve("heads" + stage + "/topic-held"), labelled(10, 3, 4), 4,
                        3, 3), topic));
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(0.6, 0.4), 0);
        String[] keys = {"train.max_steps=12", "eval.eval_steps=4", "eval.per_device_eval_batch_size=4",
            "eval.metrics=accuracy,f1"};

        Path oneOut = dir.resolve("heads-one-" + stage);
        Path twoOut = dir.resolve("heads-two-" + stage);
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, replica,
                tasks.stream().map(t -> reference(t, 2)).toList(), mix, validation, oneOut, Long.MAX_VALUE,
                Optional.empty(), keys);
        SortedMap<String, double[]> two = train(Transport.THREADS, 2, stage, replica, tasks, mix, validation, twoOut,
                Long.MAX_VALUE, Optional.empty(), keys);

        // as in the MiniLM test: a key bias's true gradient is 0 (softmax ignores a shift shared by a query's scores),
        // so it gets rounding noise, which Adam scales up to steps of the learning rate, in float64 too
        double keyBias = maxRelativeDifference(keyBiases(one), keyBiases(two));
        one.keySet().removeIf(name -> name.endsWith("attention.self.key.bias"));
        two.keySet().removeIf(name -> name.endsWith("attention.self.key.bias"));
        double difference = maxRelativeDifference(one, two);
        System.out.printf("two heads, 2 ranks, stage %d vs one rank after 12 steps: max relative difference %.3g (%s);"
                + " key biases %.3g%n", stage, difference, worstTensor, keyBias);
        assertTrue(difference <= 1e-14, "relative difference " + difference);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] initial = replica.apply(m).trainableTensors().get("classifier_topic.weight")
                    .toType(DataType.FLOAT64, false).toDoubleArray();
            assertTrue(maxRelativeDifference(new TreeMap<>(Map.of("head", initial)),
                    new TreeMap<>(Map.of("head", two.get("classifier_topic.weight")))) > 1e-3, "the second head trained");
        }

        List<StepMetrics> oneLog = MetricsLog.read(oneOut.resolve("metrics.jsonl"));
        List<StepMetrics> twoLog = MetricsLog.read(twoOut.resolve("metrics.jsonl"));
        assertEquals(oneLog.stream().map(StepMetrics::rows).toList(), twoLog.stream().map(StepMetrics::rows).toList());
        // time in collective calls: none on one rank; on two it grows from line to line and stays within the elapsed time
        assertTrue(oneLog.stream().allMatch(m -> m.communicationSeconds() == 0), oneLog.toString());
        for (int i = 0; i < twoLog.size(); i++) {
            StepMetrics m = twoLog.get(i);
            assertTrue(m.communicationSeconds() > (i == 0 ? 0 : twoLog.get(i - 1).communicationSeconds())
                    && m.communicationSeconds() < m.elapsedSeconds(), twoLog.toString());
        }
        List<StepMetrics> validated = twoLog.stream().filter(StepMetrics::validated).toList();
        assertEquals(List.of(4L, 8L, 12L), validated.stream().map(StepMetrics::step).toList());
        assertTrue(validated.get(0).rows().values().stream().allMatch(r -> r > 0), "both tasks trained by step 4");
        assertEquals(4 * 2 * 8, validated.get(0).rows().values().stream().mapToLong(Long::longValue).sum(),
                "4 steps of 2 micro-batches of 8 rows over all ranks");
        List<StepMetrics> oneValidated = oneLog.stream().filter(StepMetrics::validated).toList();
        for (int i = 0; i < validated.size(); i++) {
            Map<String, Double> a = oneValidated.get(i).validation();
            Map<String, Double> b = validated.get(i).validation();
            assertEquals(a.keySet(), b.keySet());
            for (String name : a.keySet()) {
                assertEquals(a.get(name), b.get(name), 1e-12 * Math.abs(a.get(name)), name + " at step "
                        + validated.get(i).step());
            }
        }
    }

    private static SortedMap<String, double[]> keyBiases(SortedMap<String, double[]> tensors) {
        SortedMap<String, double[]> out = new TreeMap<>(tensors);
        out.keySet().removeIf(name -> !name.endsWith("attention.self.key.bias"));
        return out;
    }

    /** Rows of random tokens with a random class below {@code classes}. */
    private static List<TokenizedRow> labelled(int rows, int classes, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> out = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            out.add(new TokenizedRow(random.longs(3 + random.nextInt(8), 5, 50).toArray(), null, null,
                    (long) random.nextInt(classes), null));
        }
        return out;
    }

    /** all-MiniLM-L6-v2 with its config's dropout turned off: ranks would draw their own masks. */
    private static Path miniLmWithoutDropout() throws Exception {
        Path imported = dir.resolve("minilm/all-MiniLM-L6-v2");
        Path miniLm = Files.exists(imported) ? imported : ImportedMiniLm.importTo(dir.resolve("minilm"));
        Path config = miniLm.resolve("config.json");
        JsonObject json = JsonParser.parseString(Files.readString(config)).getAsJsonObject();
        json.addProperty("hidden_dropout_prob", 0.0);
        json.addProperty("attention_probs_dropout_prob", 0.0);
        Files.writeString(config, json.toString());
        return miniLm;
    }

    @Test
    void ranksOnTheTcpRingTrainAsOneRank() throws Exception {
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, m -> tinyLlama(LORA, m), reference(lmTask, 4),
                dir.resolve("one-ring"), Long.MAX_VALUE, Optional.empty(), "train.max_steps=20");
        SortedMap<String, double[]> ring = train(Transport.RING, 4, 2, LORA, dir.resolve("ring"), Long.MAX_VALUE,
                Optional.empty(), "train.max_steps=20");
        double difference = maxRelativeDifference(one, ring);
        System.out.printf("lora, 4 ranks on the TCP ring, stage 2 vs one rank: max relative difference %.3g%n", difference);
        assertTrue(difference <= 1e-14, "relative difference " + difference);
    }

    /**
     * Activation checkpointing under data parallelism: N ranks recomputing their blocks in backward train as one rank
     * that keeps every activation, on threads and over the TCP ring, as closely as plain ranks do (about 1e-15 relative
     * after 20 steps in float64).
     */
    @ParameterizedTest(name = "{0}, {1} ranks, ZeRO stage {2}, {3}")
    @CsvSource({"lora, 2, 1, THREADS", "full, 4, 2, THREADS", "lora, 4, 2, RING"})
    void checkpointedRanksTrainAsOnePlainRank(String methodName, int ranks, int stage, Transport transport)
            throws Exception {
        Method method = methodName.equals("lora") ? LORA : new FullFineTuning();
        String name = methodName + ranks + stage + transport;
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, m -> tinyLlama(method, m),
                reference(lmTask, ranks), dir.resolve("one-plain-" + name), Long.MAX_VALUE, Optional.empty(),
                "train.max_steps=20");
        SortedMap<String, double[]> many = train(transport, ranks, stage, method, dir.resolve("checkpointed-" + name),
                Long.MAX_VALUE, Optional.empty(), "train.max_steps=20", "train.gradient_checkpointing=true");
        double difference = maxRelativeDifference(one, many);
        System.out.printf("%s, %d checkpointed ranks (%s), stage %d vs one plain rank after 20 steps: max relative"
                + " difference %.3g (%s)%n", methodName, ranks, transport, stage, difference, worstTensor);
        assertTrue(difference <= 1e-14, "relative difference " + difference + " in " + worstTensor);
    }

    /**
     * ZeRO-3 over the TCP ring: each rank gathers a block's parameters before its forward and its recomputation, and
     * reduce-scatters its gradients after its backward, and still trains as one rank with the global batch.
     */
    @ParameterizedTest(name = "{0}, {1} ranks, ZeRO stage 3 on the TCP ring, all-gather buckets of {2} elements")
    @CsvSource({"lora, 4, 500000000", "full, 2, 300"})
    void zeroThreeRanksOnTheTcpRingTrainAsOneRank(String methodName, int ranks, long allgatherBucket) throws Exception {
        Method method = methodName.equals("lora") ? LORA : new FullFineTuning();
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, m -> tinyLlama(method, m),
                reference(lmTask, ranks), dir.resolve("one-z3-ring-" + methodName), Long.MAX_VALUE, Optional.empty(),
                "train.max_steps=20");
        SortedMap<String, double[]> ring = train(Transport.RING, ranks, 3, method, dir.resolve("z3-ring-" + methodName),
                Long.MAX_VALUE, Optional.empty(), "train.max_steps=20", "dist.allgather_bucket_size=" + allgatherBucket);
        double difference = maxRelativeDifference(one, ring);
        System.out.printf("%s, %d ranks on the TCP ring, stage 3 vs one rank: max relative difference %.3g (%s)%n",
                methodName, ranks, difference, worstTensor);
        assertTrue(difference <= 1e-14, "relative difference " + difference + " in " + worstTensor);
    }

    /**
     * ZeRO-3 partitions the parameters outside the blocks too, gathered only while a step uses them: a prompt and a
     * prefix read before the blocks (the prefix inside every block too, and in each block's recomputation), and a
     * tied head, whose embedding table is read before the blocks and after them. 2 ranks in threads, as one rank.
     */
    @ParameterizedTest(name = "{0}, 2 ranks, ZeRO stage 3")
    @ValueSource(strings = {"prompt", "prefix", "full, tied head"})
    void zeroThreeTrainsTheParametersOutsideTheBlocksAsOneRank(String methodName) throws Exception {
        Method method = switch (methodName) {
            case "prompt" -> new PromptTuning(3, null, null);
            case "prefix" -> new PrefixTuning(3, true, 16);
            default -> new FullFineTuning();
        };
        Path model = methodName.contains("tied") ? tiedModelDir() : modelDir;
        Function<NDManager, PeftModel> replica = m -> PeftModel.apply(ModelDirectory.open(model).load(m, DataType.FLOAT64),
                method, m, 7);
        String name = methodName.replace(", ", "-").replace(' ', '-');
        SortedMap<String, double[]> one = train(Transport.THREADS, 1, 0, replica, reference(lmTask, 2),
                dir.resolve("one-z3-outside-" + name), Long.MAX_VALUE, Optional.empty(), "train.max_steps=12");
        SortedMap<String, double[]> two = train(Transport.THREADS, 2, 3, replica, lmTask,
                dir.resolve("z3-outside-" + name), Long.MAX_VALUE, Optional.empty(), "train.max_steps=12");
        double difference = maxRelativeDifference(one, two);
        System.out.printf("%s, 2 ranks, stage 3 vs one rank after 12 steps: max relative difference %.3g (%s)%n",
                methodName, difference, worstTensor);
        assertTrue(difference <= 1e-14, "relative difference " + difference + " in " + worstTensor);
    }

    private static Path tiedModelDir() {
        Path tied = dir.resolve("model-tied");
        return Files.isDirectory(tied) ? tied
                : TinyModels.writeRandom(tied, TinyModels.llamaJson("llama", 4, 2, true, ""), 5);
    }

    /**
     * A ZeRO-3 checkpoint holds whole tensors by name, as the other stages write them: 4 ranks at stage 3 and at
     * stage 2 save the same tensors at step 7; the stage-3 run resumes on 4 ranks exactly, and on 2 ranks at stage 0
     * as the stage-2 checkpoint does.
     */
    @Test
    void aZeroThreeCheckpointIsGatheredByNameAndResumesOnAnyStageAndWorldSize() throws Exception {
        Method method = new FullFineTuning();
        Path three = dir.resolve("z3-saved");
        Path two = dir.resolve("z2-saved");
        train(4, 3, method, three, 7, Optional.empty(), "train.max_steps=20");
        train(4, 2, method, two, 7, Optional.empty(), "train.max_steps=20");
        try (NDManager manager = NDManager.newBaseManager()) {
            LoadedCheckpoint a = TrainingCheckpoints.load(new Configuration(), three.resolve("checkpoint-7").toString(), manager);
            LoadedCheckpoint b = TrainingCheckpoints.load(new Configuration(), two.resolve("checkpoint-7").toString(), manager);
            assertEquals(b.model().keySet(), a.model().keySet());
            assertEquals(b.optimizer().keySet(), a.optimizer().keySet());
            double model = maxRelativeDifference(values(b.model()), values(a.model()));
            double optimizer = maxRelativeDifference(values(b.optimizer()), values(a.optimizer()));
            System.out.printf("checkpoint-7, stage 3 vs stage 2 on 4 ranks: parameters %.3g, optimizer state %.3g%n",
                    model, optimizer);
            assertTrue(model <= 1e-14 && optimizer <= 1e-12, "parameters " + model + ", optimizer state " + optimizer);
        }

        SortedMap<String, double[]> resumed = train(4, 3, method, three, Long.MAX_VALUE,
                Optional.of(three.resolve("checkpoint-7")), "train.max_steps=20");
        SortedMap<String, double[]> straight = train(4, 3, method, dir.resolve("z3-straight"), Long.MAX_VALUE,
                Optional.empty(), "train.max_steps=20");
        assertEquals(0.0, maxRelativeDifference(straight, resumed), "resumed at step 7 vs uninterrupted, stage 3");

        SortedMap<String, double[]> fromThree = train(2, 0, method, dir.resolve("z3-to-two"), Long.MAX_VALUE,
                Optional.of(three.resolve("checkpoint-7")), "train.max_steps=20");
        SortedMap<String, double[]> fromTwo = train(2, 0, method, dir.resolve("z2-to-two"), Long.MAX_VALUE,
                Optional.of(two.resolve("checkpoint-7")), "train.max_steps=20");
        double difference = maxRelativeDifference(fromTwo, fromThree);
        System.out.printf("resumed on 2 ranks at stage 0 from stage 3 vs from stage 2: %.3g%n", difference);
        assertTrue(difference <= 1e-12, "relative difference " + difference);
    }

    private static SortedMap<String, double[]> values(Map<String, NDArray> tensors) {
        SortedMap<String, double[]> out = new TreeMap<>();
        tensors.forEach((name, t) -> out.put(name, t.toType(DataType.FLOAT64, false).toDoubleArray()));
        return out;
    }

    /*
     * The epochs of the resume tests: 4 ranks x 2 rows take 5 micro-batches a rank (the smallest of the shares of
     * 11, 12, 12 and 13 rows), 2 ranks x 4 rows take 5 too (shares of 23 and 25 rows); at 2 micro-batches a step an
     * epoch is 2 steps (the fifth micro-batch is left over), so step 7 is the first step of epoch 3.
     */

    @Test
    void aMidEpochResumeOnAsManyRanksContinuesTheUninterruptedRunExactly() throws Exception {
        Method method = new FullFineTuning();
        Path saved = dir.resolve("four-resumed");
        train(4, 2, method, saved, 7, Optional.empty(), "train.max_steps=20");
        JsonObject state = trainerState(saved.resolve("checkpoint-7"));
        assertEquals(3, state.get("epoch").getAsInt());
        assertEquals(2, state.get("epoch_position").getAsInt(), "saved in the middle of epoch 3");
        SortedMap<String, double[]> resumed = train(4, 2, method, saved, Long.MAX_VALUE,
                Optional.of(saved.resolve("checkpoint-7")), "train.max_steps=20");
        SortedMap<String, double[]> straight = train(4, 2, method, dir.resolve("four-straight"), Long.MAX_VALUE,
                Optional.empty(), "train.max_steps=20");
        assertEquals(0.0, maxRelativeDifference(straight, resumed), "resumed at step 7 vs uninterrupted, 4 ranks");
    }

    /**
     * Other ranks hold other shares, so the rest of an interrupted epoch cannot be replayed on another world size:
     * the run continues from the start of the next epoch, from the checkpoint's parameters, optimizer state and step.
     * The reference is that rule spelled out by hand: the same checkpoint, its state moved to the start of epoch 4
     * and marked as saved by 2 ranks, resumed by 2 ranks (an exact same-size resume, as tested above).
     */
    @Test
    void aRunSavedByFourRanksInTheMiddleOfAnEpochResumesOnTwoFromTheNextEpoch() throws Exception {
        Method method = new FullFineTuning();
        Path saved = dir.resolve("four-then-two");
        train(4, 2, method, saved, 7, Optional.empty(), "train.max_steps=20");
        JsonObject state = trainerState(saved.resolve("checkpoint-7"));
        assertEquals(3, state.get("epoch").getAsInt());
        assertEquals(2, state.get("epoch_position").getAsInt());
        assertEquals("4", state.getAsJsonObject("metadata").get("world_size").getAsString());
        Path nextEpoch = copyWithState(saved, dir.resolve("four-then-two-by-hand"), 4, 0, "2");
        Path sameEpoch = copyWithState(saved, dir.resolve("four-then-two-same-epoch"), 3, 2, "2");

        SortedMap<String, double[]> resumed = train(2, 1, method, saved, Long.MAX_VALUE,
                Optional.of(saved.resolve("checkpoint-7")), "train.max_steps=20");
        SortedMap<String, double[]> byHand = train(2, 1, method, nextEpoch, Long.MAX_VALUE,
                Optional.of(nextEpoch.resolve("checkpoint-7")), "train.max_steps=20");
        assertEquals(0.0, maxRelativeDifference(byHand, resumed), "resumed on 2 ranks vs from the start of epoch 4");
        JsonObject end = trainerState(saved.resolve("checkpoint-20"));
        assertEquals(20, end.get("global_step").getAsInt());
        assertEquals(10, end.get("epoch").getAsInt(), "13 steps from epoch 4 end in epoch 10");

        // and the rule is what decides: going on with epoch 3 on two ranks' shares trains on other rows
        SortedMap<String, double[]> sameEpochOnTwo = train(2, 1, method, sameEpoch, Long.MAX_VALUE,
                Optional.of(sameEpoch.resolve("checkpoint-7")), "train.max_steps=20");
        double difference = maxRelativeDifference(byHand, sameEpochOnTwo);
        System.out.printf("4 ranks to step 7, then 2 ranks continuing epoch 3 vs starting epoch 4: max relative"
                + " difference %.3g%n", difference);
        assertTrue(difference > 1e-6, "relative difference " + difference);
    }

    private static JsonObject trainerState(Path checkpoint) throws Exception {
        return JsonParser.parseString(Files.readString(checkpoint.resolve("trainer_state.json"))).getAsJsonObject();
    }

    /** A copy of the output folder {@code from} whose checkpoint-7 claims the given epoch, position and world size. */
    private static Path copyWithState(Path from, Path to, int epoch, long position, String worldSize) throws Exception {
        try (var files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
        Path file = to.resolve("checkpoint-7/trainer_state.json");
        JsonObject state = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        state.addProperty("epoch", epoch);
        state.addProperty("epoch_position", position);
        state.getAsJsonObject("metadata").addProperty("world_size", worldSize);
        Files.writeString(file, state.toString());
        return to;
    }

    @ParameterizedTest(name = "ZeRO stage {0}")
    @CsvSource({"0", "1", "2"})
    void shardedStagesHoldTheirShareOfOptimizerStateAndGradients(int stage) throws Exception {
        int ranks = 4;
        JobConfig job = job(ranks, stage, 2);
        List<Collective> group = InProcessCollective.group(ranks);
        ExecutorService threads = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<long[]>> results = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                Collective collective = group.get(r);
                results.add(threads.submit(() -> {
                    try (NDManager manager = NDManager.newBaseManager()) {
                        PeftModel model = PeftModel.apply(ModelDirectory.open(modelDir).load(manager, DataType.FLOAT64),
                                new FullFineTuning(), manager, 7);
                        // one real step through the trainer's engine, so the state exists
                        model.requireGradients();
                        try (DataParallelOptimizer engine = new DataParallelOptimizer(collective, stage,
                                job.dist().reduceBucketSize(), Optimizer.from(job.train(), manager), model.trainableTensors())) {
                            synchronized (DataParallelTrainingTest.class) {   // one GradientCollector per JVM
                                for (NDArray p : model.trainableTensors().values()) {
                                    try (NDManager step = manager.newSubManager();
                                         GradientCollector c = Engine.getInstance().newGradientCollector()) {
                                        c.backward(p.get(step, new NDIndex("...")).square().sum());
                                    }
                                }
                            }
                            engine.step(1e-3, 0);
                            return new long[] {engine.optimizerStateBytes(), engine.gradientBufferBytes(),
                                engine.trainableElements() * 8, engine.bucketElements() * 8};
                        }
                    } finally {
                        collective.close();
                    }
                }));
            }
            for (Future<long[]> f : results) {
                long[] r = f.get();
                long state = r[0];
                long gradients = r[1];
                long total = r[2];
                long bucket = r[3];
                System.out.printf("stage %d: optimizer state %d bytes, gradient buffers %d bytes; trainable %d bytes,"
                        + " bucket %d bytes%n", stage, state, gradients, total, bucket);
                long adamState = 2 * total;      // exp_avg and exp_avg_sq
                if (stage == 0) {
                    assertEquals(adamState, state);
                    assertEquals(total, gradients);
                } else {
                    assertTrue(Math.abs(state - adamState / ranks) <= 2 * bucket, "state " + state);
                    if (stage == 1) {
                        assertEquals(total, gradients);
                    } else {
                        assertTrue(Math.abs(gradients - total / ranks) <= bucket + 8L * ranks, "gradients " + gradients);
                    }
                }
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
