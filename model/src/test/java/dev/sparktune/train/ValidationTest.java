package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DistConfig;
import dev.sparktune.config.EvalConfig;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.dist.ShardedParameters;
import dev.sparktune.eval.Bleu;
import dev.sparktune.eval.ChrF;
import dev.sparktune.eval.ExactMatch;
import dev.sparktune.eval.Rouge;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Validation as the eval section configures it: sharded over ranks, its metrics against plain-Java references, and
 * when it runs. Float64 tiny models, so sums in another order differ at rounding level only.
 */
class ValidationTest {
    private static final Configuration CONF = new Configuration();
    private static final long SEED = 42;
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT64);
    private static final Objective SPAM = new Objective.Classification(ClassificationLoss.PLAIN);
    private static final Objective TOPIC = new Objective.Classification(ClassificationLoss.PLAIN, "classifier_topic");
    private static final EvalConfig ALL_METRICS = TrainerTest.eval("eval.per_device_eval_batch_size=3",
            "eval.metrics=accuracy,f1,perplexity");

    /** Token ids as text, a word per id: what the generation metrics compare. */
    private static final Function<long[], String> WORDS = ids -> Arrays.stream(ids).mapToObj(id -> "w" + id)
            .collect(Collectors.joining(" "));

    @TempDir
    Path dir;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        TinyModels.writeRandom(dir.resolve("bert"), TinyModels.bertJson(), 5);
        TinyModels.writeRandom(dir.resolve("llama"), TinyModels.llamaJson("llama", 4, 2, false, ""), 1);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** {@code rows} as one Parquet file, of one row group, per entry of {@code sizes}. */
    private TrainingData writeGroups(String name, List<TokenizedRow> rows, int... sizes) {
        int from = 0;
        for (int g = 0; g < sizes.length; g++) {
            TokenizedParquet.write(CONF, dir.resolve(name + "/part-%05d.parquet".formatted(g)).toString(),
                    rows.subList(from, from + sizes[g]), 1 << 16);
            from += sizes[g];
        }
        assertEquals(rows.size(), from);
        return TrainingData.open(CONF, dir.resolve(name).toString());
    }

    /** Rows of random tokens, labelled with a random class below {@code classes}. */
    private static List<TokenizedRow> labelled(int rows, int classes, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> out = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            out.add(new TokenizedRow(random.longs(3 + random.nextInt(8), 5, 50).toArray(), null, null,
                    (long) random.nextInt(classes), null));
        }
        return out;
    }

    private static List<TokenizedRow> text(int rows, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> out = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            long[] ids = random.longs(4 + random.nextInt(9), 1, 61).toArray();
            long[] labels = ids.clone();
            labels[0] = -100;
            out.add(new TokenizedRow(ids, labels, null, null, null));
        }
        return out;
    }

    /**
     * A tiny float64 encoder with two heads: {@code classifier} with 4 classes, of which the data uses 0 to 2 and the
     * head can never predict 3 (bias -100), its weights scaled up so that rows get different predictions; and
     * {@code classifier_topic} with 3 classes.
     */
    private PeftModel bert(NDManager m) {
        Bert bert = ((Bert) ModelDirectory.open(dir.resolve("bert")).load(m, DataType.FLOAT64))
                .withClassifier("classifier", 4, m, 1)
                .withClassifier("classifier_topic", 3, m, 2);
        bert.weights().get("classifier.weight").muli(300);
        bert.weights().get("classifier_topic.weight").muli(300);
        bert.weights().get("classifier.bias").set(new NDIndex(3), -100.0);
        return PeftModel.apply(bert, new FullFineTuning(), m, 1);
    }

    private PeftModel llama(NDManager m) {
        return PeftModel.apply(ModelDirectory.open(dir.resolve("llama")).load(m, DataType.FLOAT64), new FullFineTuning(),
                m, 1);
    }

    /** The metrics of {@code ranks} in-process ranks, each with its own replica, after checking that all agree. */
    private static SortedMap<String, Double> validate(int ranks, Function<NDManager, PeftModel> replica,
                                                      List<TrainingTask> tasks, EvalConfig eval) throws Exception {
        return validate(ranks, replica, tasks, eval, null);
    }

    private static SortedMap<String, Double> validate(int ranks, Function<NDManager, PeftModel> replica,
                                                      List<TrainingTask> tasks, EvalConfig eval,
                                                      Completions completions) throws Exception {
        return validate(ranks, replica, tasks, eval, completions, false);
    }

    /** With {@code zeroStageThree}, each rank's replica partitioned as ZeRO stage 3 trains it, gathered in forwards. */
    private static SortedMap<String, Double> validate(int ranks, Function<NDManager, PeftModel> replica,
                                                      List<TrainingTask> tasks, EvalConfig eval,
                                                      Completions completions, boolean zeroStageThree)
            throws Exception {
        List<Collective> group = InProcessCollective.group(ranks);
        ExecutorService threads = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<SortedMap<String, Double>>> results = new ArrayList<>();
            for (Collective collective : group) {
                results.add(threads.submit(() -> {
                    try (NDManager m = NDManager.newBaseManager()) {
                        Validation validation = new Validation(tasks, eval, SEED, 0, completions);
                        PeftModel peft = replica.apply(m);
                        if (!zeroStageThree) {
                            return validation.evaluate(peft.model(false), collective, m);
                        }
                        try (ShardedParameters sharded = new ShardedParameters(collective, peft.weights(),
                                peft.base().layout(), peft.trainable(), DistConfig.DEFAULT_ALLGATHER_BUCKET_SIZE)) {
                            BlockCheckpoints blocks = new BlockCheckpoints(sharded);
                            PretrainedModel model = peft.model(false).withBlocks(blocks);
                            sharded.partition();
                            try {
                                return validation.evaluate(model, collective, m);
                            } finally {
                                blocks.endEvaluation();
                            }
                        }
                    } finally {
                        collective.close();
                    }
                }));
            }
            SortedMap<String, Double> first = results.get(0).get();
            for (Future<SortedMap<String, Double>> other : results) {
                assertEquals(first, other.get(), "every rank holds the same metrics");
            }
            return first;
        } finally {
            threads.shutdownNow();
        }
    }

    private static void assertRelativelyClose(SortedMap<String, Double> expected, SortedMap<String, Double> actual,
                                              double tolerance) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            double e = expected.get(name);
            double a = actual.get(name);
            assertTrue(Math.abs(e - a) <= tolerance * Math.abs(e), name + ": " + e + " vs " + a);
        }
    }

    @Test
    void twoRanksEachValidatingTheirShareGiveTheMetricsOfOneRankOverTheWholeSet() throws Exception {
        List<TrainingTask> text = List.of(new TrainingTask("lm", writeGroups("lm", text(23, 1), 5, 3, 7, 4, 4), LM));
        TrainingData topics = writeGroups("topic", labelled(17, 3, 3), 17);
        List<TrainingTask> classes = List.of(
                new TrainingTask("spam", writeGroups("spam", labelled(29, 3, 2), 6, 2, 9, 5, 7), SPAM),
                new TrainingTask("topic", topics, TOPIC));
        assertEquals(1, topics.shards(SEED, 0, 2).stream().filter(share -> share.rows() > 0).count(),
                "one row group: training would deal it to one rank");
        List<TokenizedRow> rankZero = new ArrayList<>();
        List<TokenizedRow> rankOne = new ArrayList<>();
        Validation.share(topics, SEED, 0, 2).forEachRemaining(rankZero::add);
        Validation.share(topics, SEED, 1, 2).forEachRemaining(rankOne::add);
        assertEquals(List.of(9, 8), List.of(rankZero.size(), rankOne.size()), "validation shares it by rows");
        List<TokenizedRow> both = new ArrayList<>(rankZero);
        both.addAll(rankOne);
        List<TokenizedRow> all = new ArrayList<>();
        topics.epoch(SEED, 0, 0).forEachRemaining(all::add);
        assertEquals(all.size(), both.size());
        assertEquals(new HashSet<>(all), new HashSet<>(both), "together the shares hold every row once");

        SortedMap<String, Double> lmOne = validate(1, this::llama, text, ALL_METRICS);
        SortedMap<String, Double> lmTwo = validate(2, this::llama, text, ALL_METRICS);
        SortedMap<String, Double> clsOne = validate(1, this::bert, classes, ALL_METRICS);
        SortedMap<String, Double> clsTwo = validate(2, this::bert, classes, ALL_METRICS);
        System.out.println("one rank: " + lmOne + " " + clsOne + "\ntwo ranks: " + lmTwo + " " + clsTwo);

        assertEquals(List.of("validation", "validation/lm/loss", "validation/lm/perplexity"), List.copyOf(lmOne.keySet()));
        assertEquals(List.of("validation", "validation/spam/accuracy", "validation/spam/f1", "validation/spam/loss",
                "validation/topic/accuracy", "validation/topic/f1", "validation/topic/loss"), List.copyOf(clsOne.keySet()));
        assertRelativelyClose(lmOne, lmTwo, 1e-12);
        assertRelativelyClose(clsOne, clsTwo, 1e-12);
        assertEquals(Math.exp(lmOne.get("validation/lm/loss")), lmOne.get("validation/lm/perplexity"), 1e-12);
        assertEquals((clsOne.get("validation/spam/loss") + clsOne.get("validation/topic/loss")) / 2,
                clsOne.get("validation"), 1e-15);
    }

    /**
     * SFT samples: a prompt of 3 to 6 unscored tokens, then a scored reply: for every other row the model's own
     * greedy completion of {@code replyLength} tokens (so that some completions match and the scores are not 0), else
     * random tokens.
     */
    private List<TokenizedRow> promptsAndReplies(int rows, int replyLength, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> out = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            Generator generator = new Generator((Llama) llama(m).model(false), 0, null);
            for (int i = 0; i < rows; i++) {
                long[] prompt = random.longs(3 + random.nextInt(4), 1, 61).toArray();
                long[] reply = i % 2 == 0
                        ? generator.generate(m, List.of(prompt), GenerationConfig.greedy(replyLength)).get(0).tokenIds()
                        : random.longs(replyLength, 1, 61).toArray();
                long[] ids = LongStream.concat(Arrays.stream(prompt), Arrays.stream(reply)).toArray();
                long[] labels = ids.clone();
                Arrays.fill(labels, 0, prompt.length, -100);
                out.add(new TokenizedRow(ids, labels, null, null, null));
            }
        }
        return out;
    }

    /**
     * At ZeRO stage 3 every forward gathers parameters from all ranks, so validation runs as many forwards on every
     * rank: 13 rows give shares of 7 and 6 rows, so 3 and 2 batches of 3, for the loss and for the completions, and a
     * stop token ends some completions early. Two partitioned ranks give one plain rank's metrics.
     */
    @Test
    void zeroStageThreeRanksValidateInStepAndGiveOneRanksMetrics() throws Exception {
        List<TokenizedRow> rows = promptsAndReplies(13, 4, 9);
        List<TrainingTask> tasks = List.of(new TrainingTask("chat", writeGroups("chat", rows, 4, 3, 6), LM));
        EvalConfig eval = TrainerTest.eval("eval.per_device_eval_batch_size=3",
                "eval.metrics=perplexity,bleu,rouge,exact_match");
        long stop = rows.get(0).inputIds()[rows.get(0).length() - 3];    // a token the model makes for some prompts
        GenerationConfig stopping = new GenerationConfig(6, false, 1.0, 0, 1.0, 1.0, Set.of(stop), List.of(), 0);
        Completions completions = new Completions(stopping, 0, WORDS);

        SortedMap<String, Double> one = validate(1, this::llama, tasks, eval, completions);
        SortedMap<String, Double> two = validate(2, this::llama, tasks, eval, completions, true);
        System.out.println("stage 3, 2 ranks: " + two);
        assertRelativelyClose(one, two, 1e-12);
    }

    @Test
    void generationMetricsOfTwoRanksEqualOneRanksAndTheToolsOnEachPromptCompletedAlone() throws Exception {
        List<TokenizedRow> rows = promptsAndReplies(14, 4, 9);
        List<TrainingTask> tasks = List.of(new TrainingTask("chat", writeGroups("chat", rows, 4, 3, 7), LM));
        EvalConfig eval = TrainerTest.eval("eval.per_device_eval_batch_size=3",
                "eval.metrics=bleu,chrf,rouge,exact_match");
        GenerationConfig greedy = GenerationConfig.greedy(4);
        Completions completions = new Completions(greedy, 0, WORDS);

        SortedMap<String, Double> one = validate(1, this::llama, tasks, eval, completions);
        SortedMap<String, Double> two = validate(2, this::llama, tasks, eval, completions);
        assertRelativelyClose(one, two, 1e-12);

        List<String> completed = new ArrayList<>();
        List<String> replies = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            Llama alone = (Llama) llama(m).model(false);
            Generator generator = new Generator(alone, 0, WORDS);
            for (TokenizedRow row : rows) {
                int prompt = (int) Arrays.stream(row.labels()).filter(l -> l == -100).count();
                completed.add(generator.generate(m, List.of(Arrays.copyOf(row.inputIds(), prompt)), greedy).get(0)
                        .text());
                replies.add(WORDS.apply(Arrays.copyOfRange(row.inputIds(), prompt, row.length())));
            }
        }
        List<List<String>> references = List.of(replies);
        assertEquals(Bleu.corpus().corpusScore(completed, references).score(), one.get("validation/chat/bleu"), 1e-9);
        assertEquals(ChrF.defaults().corpusScore(completed, references).score(), one.get("validation/chat/chrf"), 1e-9);
        assertEquals(ExactMatch.score(completed, references), one.get("validation/chat/exact_match"), 0);
        Map<String, Rouge.Score> rouge = new Rouge(false).corpusMean(completed, references);
        for (String type : Rouge.TYPES) {
            assertEquals(rouge.get(type).fmeasure(), one.get("validation/chat/" + type), 1e-12, type);
        }
        System.out.println("generation metrics: " + one);
        assertEquals(0.5, one.get("validation/chat/exact_match"), 0, "every other reply is the model's own");
        assertTrue(one.get("validation/chat/bleu") > 10 && one.get("validation/chat/rouge1") > 0.4, one.toString());
    }

    @Test
    void lossAccuracyAndMacroF1MatchAPlainReferenceFromEachRowsLogits() throws Exception {
        List<TokenizedRow> rows = labelled(40, 3, 7);
        List<TrainingTask> tasks = List.of(new TrainingTask("spam", writeGroups("spam", rows, 13, 11, 16), SPAM));
        SortedMap<String, Double> metrics = validate(2, this::bert, tasks, ALL_METRICS);

        // the reference: each row alone through the encoder and head, then loss and metrics in plain Java
        PretrainedModel model = bert(manager).model(false);
        int classes = 4;
        long[][] confusion = new long[classes][classes];    // [true][predicted]
        double lossSum = 0;
        for (TokenizedRow row : rows) {
            double[] logits = logits((Bert) model, row.inputIds());
            int predicted = 0;
            for (int c = 1; c < classes; c++) {
                predicted = logits[c] > logits[predicted] ? c : predicted;
            }
            int label = Math.toIntExact(row.label());
            confusion[label][predicted]++;
            double max = logits[predicted];
            double sumExp = 0;
            for (double l : logits) {
                sumExp += Math.exp(l - max);
            }
            lossSum += max + Math.log(sumExp) - logits[label];
        }
        double correct = 0;
        double f1Sum = 0;
        int predictedClasses = 0;
        for (int c = 0; c < classes; c++) {
            long tp = confusion[c][c];
            long fp = 0;
            long fn = 0;
            for (int o = 0; o < classes; o++) {
                fp += o == c ? 0 : confusion[o][c];
                fn += o == c ? 0 : confusion[c][o];
            }
            correct += tp;
            predictedClasses += tp + fp > 0 ? 1 : 0;
            // scikit-learn's zero_division=0: precision, recall or F1 over an empty count is 0
            double precision = tp + fp == 0 ? 0 : (double) tp / (tp + fp);
            double recall = tp + fn == 0 ? 0 : (double) tp / (tp + fn);
            f1Sum += precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        }
        assertTrue(predictedClasses >= 2, "the premise: rows are predicted as different classes");
        assertEquals(0, confusion[3][3] + confusion[0][3] + confusion[1][3] + confusion[2][3] + confusion[3][0]
                + confusion[3][1] + confusion[3][2], "the premise: class 3 is neither a label nor a prediction");
        double accuracy = correct / rows.size();
        assertTrue(accuracy > 0 && accuracy < 1, "the premise: some rows right, some wrong: " + accuracy);
        System.out.printf("reference: loss %.6f, accuracy %.4f, macro-F1 over 4 classes %.4f; validation: %s%n",
                lossSum / rows.size(), accuracy, f1Sum / classes, metrics);

        assertEquals(lossSum / rows.size(), metrics.get("validation/spam/loss"), 1e-12 * lossSum / rows.size());
        assertEquals(accuracy, metrics.get("validation/spam/accuracy"), 1e-15);
        assertEquals(f1Sum / classes, metrics.get("validation/spam/f1"), 1e-15,
                "macro-F1 averages all 4 classes of the head, the empty one counting 0");
    }

    /** One row's class logits, alone in its batch: no padding. */
    private double[] logits(Bert model, long[] ids) {
        try (NDManager step = manager.newSubManager()) {
            NDArray input = step.create(new long[][] {ids});
            NDArray keep = step.ones(input.getShape(), DataType.INT64);
            NDArray positions = step.arange(0L, ids.length, 1L, DataType.INT64).reshape(1, -1);
            NDArray hidden = model.hiddenStates(input, null, positions, AttentionMask.bidirectional(keep));
            return model.classify(hidden, keep, "classifier").toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** scikit-learn's documented example, y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1], worked by hand. */
    @Test
    void macroF1AndAccuracyOfAHandWorkedConfusionMatrix() {
        double[] truePositives = {2, 0, 0};
        double[] predicted = {3, 2, 1};
        double[] actual = {2, 2, 2};
        // per class F1: 2*2/(3+2) = 0.8, 0, 0; f1_score(average="macro") documents 0.26666...
        assertEquals(0.8 / 3, Validation.macroF1(truePositives, predicted, actual), 1e-15);
        assertEquals(2.0 / 6, Validation.accuracy(truePositives, actual), 1e-15);
        // with labels=range(4), the 4th class (no true and no predicted rows) is a 0 in the mean: 0.8 / 4
        assertEquals(0.2, Validation.macroF1(new double[] {2, 0, 0, 0}, new double[] {3, 2, 1, 0},
                new double[] {2, 2, 2, 0}), 1e-15);
        // every row right: F1 1 for each class present
        assertEquals(1.0, Validation.macroF1(new double[] {4, 2}, new double[] {4, 2}, new double[] {4, 2}), 1e-15);
    }

    private static TrainConfig train(String... keys) {
        List<String> all = new ArrayList<>(List.of("train.per_device_train_batch_size=2",
                "train.gradient_accumulation_steps=2", "train.logging_steps=100", "train.save_steps=100",
                "train.learning_rate=1e-3"));
        all.addAll(List.of(keys));
        return ConfigLoader.parse("", "test", all).job().train();
    }

    /**
     * 10 rows in micro-batches of 2, 2 a step: 2 steps an epoch, the 5th micro-batch left over. With logging_steps
     * beyond the run, the metrics file holds the validated steps and the last.
     */
    @Test
    void evalStepsZeroValidatesAtTheEndOfEachEpochAndOfTheRun() {
        TrainingTask train = new TrainingTask("train", writeGroups("train", text(10, 4), 10),
                new Objective.CausalLm(CausalLmLoss.FLOAT32));
        List<TrainingTask> held = List.of(new TrainingTask("train", writeGroups("held", text(3, 5), 3), train.objective()));

        List<StepMetrics> byEpoch = run(train, held, "eval.eval_steps=0", "train.max_steps=5");
        assertEquals(List.of(2L, 4L, 5L), byEpoch.stream().filter(StepMetrics::validated).map(StepMetrics::step).toList(),
                "after epochs 1 and 2, and at the last step, in the middle of epoch 3");
        assertEquals(List.of(2L, 4L, 5L), byEpoch.stream().map(StepMetrics::step).toList());
        for (StepMetrics m : byEpoch) {
            assertEquals(4 * m.step(), m.rows().get("train"), "2 rows x 2 micro-batches a step");
            assertEquals(m.validation().get("validation"), m.validation().get("validation/train/loss"));
        }

        List<StepMetrics> everyThree = run(train, held, "eval.eval_steps=3", "train.max_steps=7");
        assertEquals(List.of(3L, 6L), everyThree.stream().filter(StepMetrics::validated).map(StepMetrics::step).toList(),
                "every 3 steps, whatever the epochs, and not at the last step");
    }

    private List<StepMetrics> run(TrainingTask train, List<TrainingTask> held, String evalKey, String maxSteps) {
        Path out = dir.resolve("run-" + evalKey + maxSteps);
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel model = PeftModel.apply(ModelDirectory.open(dir.resolve("llama")).load(m, DataType.FLOAT32),
                    new Lora(4, 8, 0, List.of("all"), false, false, List.of()), m, 1);
            new Trainer(model, train(maxSteps), 0).withValidation(held, TrainerTest.eval(evalKey))
                    .train(new Trainer.Run(List.of(train), TaskMix.concat(), OutputFolder.local(out), Optional.empty()), m);
        }
        return MetricsLog.read(out.resolve("metrics.jsonl"));
    }
}
