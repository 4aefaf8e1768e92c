package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.arch.Llama;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.quant.Int8Targets;
import dev.sparktune.quant.LinearTargets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * int8 weight-only quantisation against its definition computed here in double precision, the int8 folder loaded
 * back (q * scale, exactly, for linear layers and embedding tables alike), and the logits of a quantised tiny
 * classifier and tiny Llamas (tied and untied head) within what the weight error allows.
 */
class Int8WeightsTest {
    private NDManager manager;

    @TempDir
    Path dir;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void quantisedValuesAndScalesFollowTheDefinitionAndAZeroRowStaysZero() {
        int out = 5;
        int in = 7;
        double[][] w = new double[out][in];
        Random random = new Random(3);
        for (int o = 0; o < out - 1; o++) {         // the last row stays all zero
            for (int i = 0; i < in; i++) {
                w[o][i] = random.nextGaussian() * (o + 1);
            }
        }
        NDArray weight = manager.create(flatten(w), new Shape(out, in)).toType(DataType.FLOAT32, false);

        Map<String, NDArray> q = Int8Weights.quantize(Map.of("m.weight", weight, "m.bias", manager.zeros(new Shape(out))),
                List.of("m"), manager);

        assertEquals(DataType.INT8, q.get("m.weight").getDataType());
        assertEquals(DataType.FLOAT32, q.get("m.weight_scale").getDataType());
        assertEquals(new Shape(out), q.get("m.weight_scale").getShape());
        assertEquals(DataType.FLOAT32, q.get("m.bias").getDataType(), "biases stay float");
        byte[] values = q.get("m.weight").toByteArray();
        float[] scales = q.get("m.weight_scale").toFloatArray();
        for (int o = 0; o < out; o++) {
            double max = 0;
            for (int i = 0; i < in; i++) {
                max = Math.max(max, Math.abs((float) w[o][i]));
            }
            assertEquals(max / 127, scales[o], 1e-6 * max, "scale of row " + o);
            for (int i = 0; i < in; i++) {
                float x = (float) w[o][i];
                long expected = max == 0 ? 0 : Math.max(-127, Math.min(127, Math.round(x / scales[o])));
                // PyTorch rounds half to even, Math.round half up: only an exact .5 could differ, none is here
                assertEquals(expected, values[o * in + i], "q[" + o + "][" + i + "]");
                assertTrue(Math.abs(x - values[o * in + i] * (double) scales[o]) <= scales[o] / 2 * (1 + 1e-6),
                        "error within half a step at [" + o + "][" + i + "]");
            }
        }
        assertEquals(0f, scales[out - 1], "an all-zero row has scale 0");
    }

    @Test
    void anInt8FolderLoadsAsQTimesScaleExactlyAndItsLogitsStayWithinTheWeightError() throws Exception {
        Path floatDir = TinyModels.writeRandom(dir.resolve("float"), TinyModels.bertJson(), 4);
        ModelDirectory source = ModelDirectory.open(floatDir);
        Bert original = ((Bert) source.load(manager, DataType.FLOAT32)).withClassifier(3, manager, 9);
        List<String> modules = Int8Targets.of(original.layout());
        assertTrue(modules.containsAll(List.of("encoder.layer.0.attention.self.query", "embeddings.word_embeddings",
                "embeddings.position_embeddings", "embeddings.token_type_embeddings"))
                && !modules.contains("classifier") && modules.stream().noneMatch(m -> m.contains("LayerNorm")),
                modules.toString());

        Map<String, NDArray> quantized = Int8Weights.quantize(original.weights().asMap(), modules, manager);
        ModelDirectory.write(dir.resolve("int8"), Int8Weights.withConfig(source.configJson(), modules), quantized,
                Long.MAX_VALUE, null);
        assertEquals(DataType.FLOAT32,
                Checkpoint.load(dir.resolve("int8"), manager).get("classifier.weight").getDataType(), "the head stays float");
        PretrainedModel loaded = ModelDirectory.open(dir.resolve("int8")).load(manager, DataType.FLOAT32);

        assertDequantizedExactly(modules, quantized, original, loaded);
        assertTrue(Files.readString(dir.resolve("int8/config.json")).contains("\"quant_method\": \"sparktune_int8\""));
        assertTrue(loaded.weights().find(modules.get(0) + ".weight_scale") == null, "scales are folded in on load");
        assertTrue(loaded.weights().find("embeddings.word_embeddings.weight_scale") == null);

        // Each of the k quantised matrices on a token's path moves its output by at most 1/254 of the row's largest
        // weight per entry; to first order the relative changes add up, and layer norms keep them from compounding.
        // The three embedding tables are summed into the first layer norm's input: three more terms.
        double bound = modules.size() * 0.5 / 127;
        NDArray expected = logits(original);
        NDArray actual = logits((Bert) loaded);
        double diff = expected.sub(actual).abs().max().getFloat();
        double scale = expected.abs().max().getFloat();
        assertTrue(diff > 0, "int8 must change the logits a little (premise)");
        assertTrue(diff <= bound * scale, "logits moved by " + diff + ", more than " + bound + " x " + scale);
    }

    /**
     * A tiny Llama with its own {@code lm_head} and one with {@code tie_word_embeddings}: the embedding table is int8,
     * an untied head stays float, and a tied one is the dequantised table itself (one float tensor, no lm_head).
     */
    @ParameterizedTest(name = "tie_word_embeddings {0}")
    @ValueSource(booleans = {false, true})
    void anInt8LlamaLoadsItsEmbeddingAsQTimesScaleAndItsLogitsStayWithinTheWeightError(boolean tied) throws Exception {
        ModelDirectory source = ModelDirectory.open(TinyModels.writeRandom(dir.resolve("float"),
                TinyModels.llamaJson("llama", 4, 2, tied, ""), 5));
        Llama original = (Llama) source.load(manager, DataType.FLOAT32);
        List<String> modules = Int8Targets.of(original.layout());
        assertTrue(modules.contains("model.embed_tokens") && !modules.contains("lm_head")
                && modules.containsAll(LinearTargets.of(original.layout())), modules.toString());

        Map<String, NDArray> quantized = Int8Weights.quantize(original.weights().asMap(), modules, manager);
        ModelDirectory.write(dir.resolve("int8"), Int8Weights.withConfig(source.configJson(), modules), quantized,
                Long.MAX_VALUE, null);
        Map<String, NDArray> stored = Checkpoint.load(dir.resolve("int8"), manager);
        assertEquals(DataType.INT8, stored.get("model.embed_tokens.weight").getDataType());
        assertEquals(tied, !stored.containsKey("lm_head.weight"), "a tied model stores its head once, as the table");
        Llama loaded = (Llama) ModelDirectory.open(dir.resolve("int8")).load(manager, DataType.FLOAT32);

        assertDequantizedExactly(modules, quantized, original, loaded);
        assertEquals(DataType.FLOAT32, loaded.weights().get("model.embed_tokens.weight").getDataType());
        if (!tied) {
            assertEquals(0f, loaded.weights().get("lm_head.weight").sub(original.weights().get("lm_head.weight"))
                    .abs().max().getFloat(), "an untied head stays float, unchanged");
        }

        long[][] ids = {{2, 7, 11, 3, 9, 4}, {5, 8, 60, 1, 0, 13}};
        NDArray positions = TinyModels.positions(manager, 2, 6);
        AttentionMask mask = AttentionMask.causal(null);
        NDArray expected = original.logits(manager.create(ids), positions, mask, null);
        NDArray actual = loaded.logits(manager.create(ids), positions, mask, null);
        if (tied) {
            // the head is the loaded table: logits = h . E'^T with the very tensor the lookup used
            NDArray hidden = loaded.hiddenStates(manager.create(ids), positions, mask, null);
            NDArray head = loaded.weights().get("model.embed_tokens.weight");
            assertEquals(0f, hidden.matMul(head.transpose()).sub(actual).abs().max().getFloat(), 1e-6f);
        }
        // The same first-order bound as the classifier's: one 1/254 term per quantised matrix on a token's path,
        // the embedding lookup included; a tied table is on the path twice (lookup and head), so one term more.
        double bound = (modules.size() + (tied ? 1 : 0)) * 0.5 / 127;
        double diff = expected.sub(actual).abs().max().getFloat();
        double scale = expected.abs().max().getFloat();
        assertTrue(diff > 0, "int8 must change the logits a little (premise)");
        assertTrue(diff <= bound * scale, "logits moved by " + diff + ", more than " + bound + " x " + scale);
    }

    /**
     * Every quantised tensor, linear matrix or embedding table, loads as q * scale of its row, exactly, within
     * half a step (max|row| / 254) of the original.
     */
    private static void assertDequantizedExactly(List<String> modules, Map<String, NDArray> quantized,
                                                 PretrainedModel original, PretrainedModel loaded) {
        double worstRelative = 0;
        for (String module : modules) {
            byte[] q = quantized.get(module + ".weight").toByteArray();
            float[] scale = quantized.get(module + ".weight_scale").toFloatArray();
            float[] dequantized = loaded.weights().get(module + ".weight").toFloatArray();
            float[] w = original.weights().get(module + ".weight").toFloatArray();
            int in = q.length / scale.length;
            for (int k = 0; k < q.length; k++) {
                // an 8-bit integer times a 24-bit mantissa is exact in double: one rounding to float32, as float32 does
                assertEquals((float) (q[k] * (double) scale[k / in]), dequantized[k], module + "[" + k + "]");
                worstRelative = Math.max(worstRelative, Math.abs(w[k] - dequantized[k]) / (127 * scale[k / in]));
            }
        }
        assertTrue(worstRelative <= 0.5 / 127 * (1 + 1e-5), "per element |w - q*scale| <= max|row| / 254, got "
                + worstRelative + " x max|row|");
    }

    @Test
    void aFloatModelWrittenWithAnInt8ExportsConfigDropsItsQuantizationConfigAndLoads() throws Exception {
        ModelDirectory source = ModelDirectory.open(TinyModels.writeRandom(dir.resolve("float"), TinyModels.bertJson(), 4));
        PretrainedModel original = source.load(manager, DataType.FLOAT32);
        List<String> modules = LinearTargets.of(original.layout());
        ModelDirectory int8 = ModelDirectory.write(dir.resolve("int8"), Int8Weights.withConfig(source.configJson(), modules),
                Int8Weights.quantize(original.weights().asMap(), modules, manager), Long.MAX_VALUE, null);
        PretrainedModel loaded = int8.load(manager, DataType.FLOAT32);

        // what a full fine-tune on the int8 export saves: float weights, the config.json it started from
        ModelDirectory trained = ModelDirectory.write(dir.resolve("trained"), int8.configJson(),
                loaded.weights().asMap(), Long.MAX_VALUE, null);

        assertEquals(List.of(), Int8Weights.modules(trained.configJson(), "trained"));
        PretrainedModel reloaded = trained.load(manager, DataType.FLOAT32);
        String w = modules.get(0) + ".weight";
        assertEquals(0f, reloaded.weights().get(w).sub(loaded.weights().get(w)).abs().max().getFloat());
    }

    @Test
    void anotherQuantMethodIsRefusedNamingIt() {
        String config = "{\"model_type\": \"bert\", \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}";
        CheckpointException e = assertThrows(CheckpointException.class, () -> Int8Weights.modules(config, "m/config.json"));
        assertTrue(e.getMessage().contains("'gptq' is not supported"), e.getMessage());
        assertEquals(List.of(), Int8Weights.modules("{\"model_type\": \"bert\"}", "m"));
        assertEquals(List.of("a", "b"), Int8Weights.modules(Int8Weights.withConfig("{}", List.of("a", "b")), "m"));
        assertEquals("{}", Int8Weights.withoutConfig(Int8Weights.withConfig("{}", List.of("a"))).trim());
    }

    private NDArray logits(Bert bert) {
        long[][] ids = {{2, 7, 11, 3, 9, 4}, {5, 8, 1, 0, 0, 0}};
        long[][] keep = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}};
        NDArray keepArray = manager.create(keep);
        NDArray hidden = bert.hiddenStates(manager.create(ids), null, TinyModels.positions(manager, 2, 6),
                AttentionMask.bidirectional(keepArray));
        return bert.classify(hidden, keepArray);
    }

    private static double[] flatten(double[][] w) {
        double[] flat = new double[w.length * w[0].length];
        for (int o = 0; o < w.length; o++) {
            System.arraycopy(w[o], 0, flat, o * w[0].length, w[0].length);
        }
        return flat;
    }
}
