package dev.sparktune.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.KvCache;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Properties every causal decoder must have, on tiny random models of each variant we support. */
class LlamaPropertiesTest {
    private static final double TOLERANCE = 1e-5;
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of("llama MHA untied", TinyModels.llamaJson("llama", 4, 4, false, "")),
                Arguments.of("llama GQA tied", TinyModels.llamaJson("llama", 4, 2, true, "")),
                Arguments.of("qwen2 q/k/v bias", TinyModels.llamaJson("qwen2", 4, 2, true, "")),
                Arguments.of("mistral sliding window", TinyModels.llamaJson("mistral", 4, 1, false, "\"sliding_window\": 3")),
                Arguments.of("llama3 rope scaling", TinyModels.llamaJson("llama", 4, 2, false,
                        "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                                + " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}")));
    }

    @TempDir
    Path dir;

    /** Each variant goes through the disk in Hugging Face layout, as a user's checkpoint would. */
    private Llama model(String json) {
        return (Llama) ModelDirectory.open(TinyModels.writeRandom(dir.resolve("model"), json, 7))
                .load(manager, DataType.FLOAT32);
    }

    private NDArray logits(Llama model, long[][] ids) {
        NDArray input = manager.create(ids);
        return model.logits(input, TinyModels.positions(manager, ids.length, ids[0].length), AttentionMask.causal(null), null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void changingALaterTokenLeavesEarlierLogitsUnchanged(String name, String json) {
        Llama model = model(json);
        long[][] ids = {{3, 14, 15, 9, 26, 5, 35, 8}};
        long[][] changed = {{3, 14, 15, 9, 26, 5, 35, 8}};
        changed[0][5] = 42;

        NDArray before = logits(model, ids);
        NDArray after = logits(model, changed);

        assertClose(before.get(":, :5, :"), after.get(":, :5, :"));
        assertTrue(maxAbs(before.get(":, 5:, :"), after.get(":, 5:, :")) > 1e-3, "the changed token must matter");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void kvCacheDecodingEqualsTheFullForward(String name, String json) {
        Llama model = model(json);
        long[][] ids = {{3, 14, 15, 9, 26, 5, 35, 8}, {1, 2, 3, 4, 5, 6, 7, 9}};
        NDArray full = logits(model, ids);

        NDArray input = manager.create(ids);
        NDList steps = new NDList();
        try (KvCache cache = new KvCache(manager, model.config().numHiddenLayers())) {
            // a prompt of 5 tokens, then one token at a time, each step in its own manager
            int[] cuts = {0, 5, 6, 7, 8};
            for (int s = 0; s + 1 < cuts.length; s++) {
                try (NDManager step = manager.newSubManager()) {
                    NDArray chunk = input.get(new NDIndex(":, {}:{}", cuts[s], cuts[s + 1]));
                    chunk.attach(step);
                    NDArray positions = step.arange((long) cuts[s], cuts[s + 1], 1L, DataType.INT64)
                            .reshape(1, -1).repeat(0, 2);
                    NDArray out = model.logits(chunk, positions, AttentionMask.causal(null), cache);
                    out.attach(manager);
                    steps.add(out);
                }
            }
        }
        assertClose(full, NDArrays.concat(steps, 1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void leftPaddedBatchEqualsEachPromptAlone(String name, String json) {
        Llama model = model(json);
        long pad = 0;
        long[] longer = {3, 14, 15, 9, 26, 5};
        long[] shorter = {27, 18, 28};
        long[][] batch = {longer, {pad, pad, pad, 27, 18, 28}};
        long[][] keep = {{1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}};
        // Hugging Face's positions for left padding: cumulative count of real tokens, minus one.
        long[][] positions = {{0, 1, 2, 3, 4, 5}, {0, 0, 0, 0, 1, 2}};

        NDArray batched = model.logits(manager.create(batch), manager.create(positions),
                AttentionMask.causal(manager.create(keep)), null);

        assertClose(logits(model, new long[][] {longer}), batched.get("0:1, :, :"));
        assertClose(logits(model, new long[][] {shorter}), batched.get("1:2, 3:, :"));
    }

    @Test
    void groupedQueryAttentionEqualsMultiHeadWithRepeatedKeyValueHeads() {
        LlamaConfig gqaConfig = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 2, false, ""));
        Llama gqa = new Llama(gqaConfig, TinyModels.randomWeights(gqaConfig.parameterShapes(), manager, DataType.FLOAT32, 11));
        LlamaConfig mhaConfig = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 4, false, ""));

        // Key/value head h serves query heads 2h and 2h+1: repeat each head's block of rows twice.
        Map<String, NDArray> mhaWeights = new HashMap<>(gqa.weights().asMap());
        int headDim = gqaConfig.headDim();
        for (int layer = 0; layer < gqaConfig.numHiddenLayers(); layer++) {
            for (String proj : new String[] {"k_proj", "v_proj"}) {
                String name = "model.layers." + layer + ".self_attn." + proj + ".weight";
                NDArray w = mhaWeights.get(name);
                NDArray perHead = w.reshape(2, headDim, w.getShape().get(1)).repeat(0, 2);
                mhaWeights.put(name, perHead.reshape(4L * headDim, w.getShape().get(1)));
            }
        }
        Llama mha = new Llama(mhaConfig, new Weights(mhaWeights, "repeated heads"));

        long[][] ids = {{3, 14, 15, 9, 26, 5, 35, 8}};
        assertClose(logits(gqa, ids), logits(mha, ids));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void packedBatchWithBlockDiagonalMaskEqualsSegmentsRunSeparately(String name, String json) {
        Llama model = model(json);
        long[] a = {3, 14, 15, 9};
        long[] b = {26, 5, 35};
        long[] c = {8, 44};
        long[][] packed = {{3, 14, 15, 9, 26, 5, 35, 8, 44}};
        long[][] segments = {{1, 1, 1, 1, 2, 2, 2, 3, 3}};
        long[][] positions = {{0, 1, 2, 3, 0, 1, 2, 0, 1}};

        NDArray out = model.logits(manager.create(packed), manager.create(positions),
                AttentionMask.causal(null).withSegments(manager.create(segments)), null);

        assertClose(logits(model, new long[][] {a}), out.get(":, 0:4, :"));
        assertClose(logits(model, new long[][] {b}), out.get(":, 4:7, :"));
        assertClose(logits(model, new long[][] {c}), out.get(":, 7:9, :"));
    }

    @Test
    void outputShapesFollowTheConfig() {
        Llama model = model(TinyModels.llamaJson("llama", 4, 2, false, ""));
        NDArray out = logits(model, new long[][] {{1, 2, 3}, {4, 5, 6}});
        assertEquals(new Shape(2, 3, 61), out.getShape());
    }

    static double maxAbs(NDArray a, NDArray b) {
        return a.toType(DataType.FLOAT64, false).sub(b.toType(DataType.FLOAT64, false)).abs().max().getDouble();
    }

    static void assertClose(NDArray expected, NDArray actual) {
        assertEquals(expected.getShape(), actual.getShape());
        double diff = maxAbs(expected, actual);
        assertTrue(diff <= TOLERANCE, "max abs difference " + diff + " > " + TOLERANCE);
    }
}
