package dev.sparktune.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.EncodedBatch;
import dev.sparktune.tokenize.Tokenizer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The methods on the real imported all-MiniLM-L6-v2 with a 3-way classification head. */
class MiniLmMethodsTest {
    private static final List<String> TEXTS = List.of(
            "The striker scored twice in the final minutes.", "She won the marathon in record time.",
            "The team lost the championship on penalties.", "Add the garlic and simmer the sauce for ten minutes.",
            "This bread needs flour, yeast and warm water.", "Grill the fish and serve it with lemon.",
            "The new processor doubles the cache size.", "Update the driver before installing the graphics card.",
            "The database index speeds up every query.");
    private static final long[] LABELS = {0, 0, 0, 1, 1, 1, 2, 2, 2};

    private static NDManager manager;
    private static Path modelDir;
    private static Bert miniLm;
    private static EncodedBatch batch;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load(@TempDir Path dir) {
        manager = NDManager.newBaseManager();
        modelDir = ImportedMiniLm.importTo(dir);
        miniLm = (Bert) ModelDirectory.open(modelDir).load(manager, DataType.FLOAT32);
        tokenizer = Tokenizer.load(modelDir);
        batch = tokenizer.encodeBatch(TEXTS);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        manager.close();
    }

    @Test
    void trainableCountsOnMiniLmFollowTheClosedForm() {
        Bert classifier = miniLm.withClassifier(3, manager, 1);
        PeftModel qv = PeftModel.apply(classifier, new Lora(8, 16, 0, List.of("query", "value"), false, false, List.of()), manager, 1);
        long head = 3 * 384 + 3;
        assertEquals(6 * 2 * (384 * 8 + 8 * 384) + head, qv.report().trainable());
        System.out.println("MiniLM LoRA r=8 on query, value: " + qv.report());
        assertTrue(qv.report().percent() < 1.0);

        PeftModel all = PeftModel.apply(classifier, new Lora(8, 16, 0, List.of("all"), false, false, List.of()), manager, 1);
        long perLayer = 4 * 8 * (384 + 384) + 8 * (384 + 1536) + 8 * (1536 + 384);
        assertEquals(6 * perLayer + head, all.report().trainable());
        System.out.println("MiniLM LoRA r=8 on every linear layer: " + all.report());
    }

    /** The seed's claim "LoRA adds < 1% parameters", on the shapes of real published configs (no weights needed). */
    @Test
    void loraAddsUnderOnePercentOnRealConfigs() {
        String llama2 = """
                {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                 "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32}""";
        String qwen25 = """
                {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
                 "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "tie_word_embeddings": true}""";
        for (String json : List.of(llama2, qwen25)) {
            LlamaConfig config = LlamaConfig.fromJson(json, "published config");
            var shapes = config.parameterShapes();
            long base = shapes.values().stream().mapToLong(s -> s.size()).sum();
            ModelLayout layout = ModelLayout.of(config);
            long qv = new Lora(8, 16, 0, List.of("q_proj", "v_proj"), false, false, List.of()).addedParameters(layout, shapes);
            long all = new Lora(8, 16, 0, List.of("all"), false, false, List.of()).addedParameters(layout, shapes);
            System.out.printf("%s (%.2fB params): LoRA r=8 q,v adds %.3f%%, every linear layer %.3f%%%n",
                    config.modelType(), base / 1e9, 100.0 * qv / base, 100.0 * all / base);
            assertTrue(100.0 * all / base < 1.0);
        }
        LlamaConfig llama = LlamaConfig.fromJson(llama2, "Llama-2-7B");
        assertEquals(32L * 8 * (4096 + 4096) * 2, new Lora(8, 16, 0, List.of("q_proj", "v_proj"), false, false, List.of())
                .addedParameters(ModelLayout.of(llama), llama.parameterShapes()));
    }

    static Stream<Arguments> methods() {
        return Stream.of(
                Arguments.of("full", new FullFineTuning(), 1e-4),
                Arguments.of("freeze top 2", new Freeze(2, List.of()), 1e-4),
                Arguments.of("bitfit", new BitFit(), 1e-3),
                Arguments.of("lora", new Lora(8, 16, 0.1, List.of("query", "value"), false, false, List.of()), 1e-3),
                Arguments.of("dora", new Lora(8, 16, 0.0, List.of("all"), false, true, List.of()), 1e-3),
                Arguments.of("adapter", new BottleneckAdapter(32), 1e-3),
                Arguments.of("prefix", new PrefixTuning(8, true, 128), 1e-3),
                Arguments.of("prompt from text", null, 1e-3));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void eachMethodLowersTheLossOnAFixedBatchWithin50Steps(String name, Method method, double lr) {
        if (method == null) {
            method = new PromptTuning(6, "classify the topic", tokenizer.encode("classify the topic", false));
        }
        try (NDManager run = manager.newSubManager()) {
            // a fresh copy per method: full, freeze and BitFit train the base tensors in place
            Bert fresh = (Bert) ModelDirectory.open(modelDir).load(run, DataType.FLOAT32);
            PeftModel model = PeftModel.apply(fresh.withClassifier(3, run, 4), method, run, 4);
            model.requireGradients();
            Adam adam = new Adam(lr);
            double first = 0;
            double last = 0;
            for (int step = 0; step < 50; step++) {
                try (NDManager s = run.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = loss((Bert) model.model(true), s);
                    collector.backward(loss);
                    last = loss.getFloat();
                    first = step == 0 ? last : first;
                }
                adam.step(model.trainableTensors(), step + 1);
            }
            System.out.printf("%s: loss %.4f -> %.4f over 50 steps (%s)%n", name, first, last, model.report());
            assertTrue(first > 0.8, name + ": a fresh 3-way head starts near ln 3, got " + first);
            assertTrue(last < 0.9 * first, name + ": loss went from " + first + " to " + last);
        }
    }

    private static NDArray loss(Bert model, NDManager s) {
        NDArray keep = s.create(batch.attentionMask());
        NDArray positions = s.arange(0L, batch.length(), 1L, DataType.INT64).reshape(1, -1).repeat(0, batch.size());
        NDArray hidden = model.hiddenStates(s.create(batch.inputIds()), null, positions, AttentionMask.bidirectional(keep));
        NDArray logProbs = model.classify(hidden, keep).logSoftmax(-1);
        NDArray picked = logProbs.mul(s.create(LABELS).oneHot(3).toType(DataType.FLOAT32, false)).sum(new int[] {1});
        return picked.mean().neg();
    }

    /** A plain Adam for this test only (the training loop's optimizers are their own issue), then zeroed gradients. */
    private static final class Adam {
        private final double lr;
        private final Map<String, NDArray[]> moments = new HashMap<>();

        Adam(double lr) {
            this.lr = lr;
        }

        void step(Map<String, NDArray> params, int t) {
            params.forEach((name, p) -> {
                NDArray[] mv = moments.computeIfAbsent(name, k -> new NDArray[] {p.zerosLike(), p.zerosLike()});
                try (NDManager scratch = NDManager.newBaseManager()) {
                    // lend the parameter and its moments to the scratch manager: every temporary is freed with it
                    p.tempAttach(scratch);
                    mv[0].tempAttach(scratch);
                    mv[1].tempAttach(scratch);
                    NDArray g = p.getGradient();
                    g.attach(scratch);
                    mv[0].muli(0.9).addi(g.mul(0.1));
                    mv[1].muli(0.999).addi(g.pow(2).mul(0.001));
                    NDArray mHat = mv[0].div(1 - Math.pow(0.9, t));
                    NDArray vHat = mv[1].div(1 - Math.pow(0.999, t));
                    p.subi(mHat.div(vHat.sqrt().add(1e-8)).mul(lr));
                    g.muli(0);
                }
            });
        }
    }
}
