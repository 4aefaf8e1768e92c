package dev.sparktune.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.ThreadGradients;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.LoraMerge;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.ClassificationLoss;
import dev.sparktune.train.Objective;
import dev.sparktune.train.TrainingBatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A LoRA model over a packed frozen base (int8, NF4, bfloat16): its gradients equal those over a float base whose
 * weights are the packed weights' values (float64, 1e-12 relative), so packing changes nothing but the rounding of
 * the base; with gradient checkpointing too. And what is packed, what it weighs, and that a merge is refused.
 */
class FrozenBaseTest {
    private static final double TOLERANCE = 1e-12;
    private static final Lora LORA = new Lora(4, 8, 0, List.of("all"), false, false, List.of());
    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String family : List.of("llama", "bert")) {
            for (FrozenBase.Storage storage : List.of(FrozenBase.Storage.INT8, FrozenBase.Storage.NF4, FrozenBase.Storage.BF16)) {
                out.add(Arguments.of(family, storage, false));
                out.add(Arguments.of(family, storage, true));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} checkpointed={2}")
    @MethodSource("cases")
    void loraGradientsThroughAPackedBaseEqualThoseThroughItsValuesInFloat(String family, FrozenBase.Storage storage,
                                                                         boolean checkpointed) {
        PeftModel packed = FrozenBase.pack(lora(family, manager), storage);
        PeftModel original = lora(family, manager);
        Map<String, NDArray> values = new TreeMap<>();
        double rounding = 0;
        for (String module : LinearTargets.of(packed.base().layout())) {
            PackedTensor p = packed.weights().packed(module + ".weight");
            NDArray value = p.unpack(manager, DataType.FLOAT64);
            values.put(module + ".weight", value);
            rounding = Math.max(rounding, value.sub(original.weights().get(module + ".weight")).abs().max().getDouble());
        }
        // the premise: the packed base is not the float one, so equal gradients are not a matter of course
        assertTrue(rounding > 0, "packing rounded nothing");
        PeftModel dequantized = new PeftModel(original.base(), original.method(),
                original.weights().plus(values, "dequantized"), original.trainable());

        SortedMap<String, double[]> expected = gradients(dequantized, family, false);
        SortedMap<String, double[]> actual = gradients(packed, family, checkpointed);
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, g) -> {
            assertTrue(norm(g) > 0, name + " has no gradient: the comparison would prove nothing");
            double difference = relativeDifference(g, actual.get(name));
            assertTrue(difference <= TOLERANCE, name + ": relative difference " + difference);
        });
    }

    @Test
    void onlyTheFrozenLinearWeightsArePacked() {
        Lora withSaved = new Lora(4, 8, 0, List.of("q_proj"), false, false, List.of("down_proj"));
        PeftModel model = FrozenBase.pack(PeftModel.apply(llama(manager), withSaved, manager, 11), FrozenBase.Storage.NF4);
        List<String> packed = new ArrayList<>();
        for (String name : model.weights().asMap().keySet()) {
            assertNull(model.weights().packed(name), name + " is both an array and packed");
        }
        for (String module : model.base().layout().linearModules()) {
            if (model.weights().packed(module + ".weight") != null) {
                packed.add(module);
            }
        }
        List<String> expected = new ArrayList<>(LinearTargets.of(model.base().layout()));
        expected.removeIf(m -> m.endsWith("down_proj"));
        assertEquals(expected, packed);
        // trained in full (modules_to_save), the output head, embeddings, norms and biases stay arrays
        for (String name : List.of("model.layers.0.mlp.down_proj.weight", "lm_head.weight", "model.embed_tokens.weight",
                "model.norm.weight", "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.q_proj.lora_A.weight")) {
            assertNotNull(model.weights().find(name), name + " should stay an array");
        }
        // the base the model was built from sees the same packed tensors, not closed arrays
        assertSame(model.weights().packed("model.layers.1.self_attn.k_proj.weight"),
                model.base().weights().packed("model.layers.1.self_attn.k_proj.weight"));
        assertEquals(PeftModel.apply(llama(manager), withSaved, manager, 11).report(), model.report());
    }

    @ParameterizedTest
    @EnumSource(value = FrozenBase.Storage.class, names = {"INT8", "NF4", "BF16"})
    void thePackedLinearWeightsWeighWhatTheirFormatSays(FrozenBase.Storage storage) {
        PeftModel model = lora("llama", manager, DataType.FLOAT32);
        long elements = 0;
        long rows = 0;
        long blocks = 0;
        for (String module : LinearTargets.of(model.base().layout())) {
            var shape = model.weights().get(module + ".weight").getShape();
            elements += shape.size();
            rows += shape.get(0);
            blocks += (shape.size() + 63) / 64;
        }
        long floatBytes = model.weights().bytesByKind().get("float32");
        PeftModel packed = FrozenBase.pack(model, storage);
        SortedMap<String, Long> bytes = packed.weights().bytesByKind();
        long expected = switch (storage) {
            case INT8 -> elements + 4 * rows;           // 1 byte a weight and a float32 scale a row
            case NF4 -> elements / 2 + 4 * blocks;      // half a byte a weight and a float32 absmax a block of 64
            case BF16 -> 2 * elements;
            case FLOAT -> throw new AssertionError();
        };
        String kind = storage.name().toLowerCase();
        assertEquals(expected, bytes.get(kind));
        assertEquals(floatBytes - 4 * elements, bytes.get("float32"), "everything else stays float32");
        double ratio = (double) bytes.get(kind) / (4 * elements);
        double bound = switch (storage) {
            case INT8 -> 0.25 + (double) rows / elements;
            case NF4 -> 0.125 + 1.0 / 64;
            default -> 0.5;
        };
        assertEquals(bound, ratio, 1e-12);
        System.out.printf("tiny Llama, %d linear weights: %s %d bytes = %.4f of float32 (%d); whole model %s%n",
                elements, kind, bytes.get(kind), ratio, 4 * elements, bytes);
    }

    @Test
    void aPackedBaseIsNotMergedIntoItsRoundedValues() {
        PeftModel packed = FrozenBase.pack(lora("llama", manager), FrozenBase.Storage.INT8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraMerge.merge(packed, manager));
        assertTrue(e.getMessage().contains("merge the adapter into the float base loaded again from its model folder"),
                e.getMessage());
    }

    /** One micro-batch's gradients of every trainable tensor (no dropout: both runs must see the same function). */
    private SortedMap<String, double[]> gradients(PeftModel model, String family, boolean checkpointed) {
        model.requireGradients();
        BlockCheckpoints blocks = new BlockCheckpoints();
        PretrainedModel run = checkpointed ? model.model(false).withBlocks(blocks) : model.model(false);
        try (NDManager step = manager.newSubManager(); ThreadGradients collector = new ThreadGradients()) {
            Objective.Loss loss = objective(family).loss(run, batch(family, step), step);
            collector.backward(loss.sum());
            if (checkpointed) {
                blocks.backward();
            }
            SortedMap<String, double[]> out = new TreeMap<>();
            model.trainableTensors().forEach((name, t) -> out.put(name, t.getGradient().toDoubleArray()));
            return out;
        }
    }

    private static PeftModel lora(String family, NDManager m) {
        return lora(family, m, DataType.FLOAT64);
    }

    /** LoRA on every linear layer, with B made random: at B = 0 the gradient of A would be zero. */
    private static PeftModel lora(String family, NDManager m, DataType dtype) {
        PretrainedModel base = family.equals("llama") ? llama(m, dtype) : bert(m, dtype);
        PeftModel model = PeftModel.apply(base, LORA, m, 11);
        Random random = new Random(5);
        model.trainableTensors().forEach((name, t) -> {
            if (name.endsWith("lora_B.weight")) {
                t.addi(m.create(random.doubles(t.getShape().size(), -0.1, 0.1).toArray(), t.getShape()).toType(dtype, false));
            }
        });
        return model;
    }

    private static Llama llama(NDManager m) {
        return llama(m, DataType.FLOAT64);
    }

    /** Qwen2: linear layers with biases, an untied head. */
    private static Llama llama(NDManager m, DataType dtype) {
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("qwen2", 4, 2, false, ""));
        return new Llama(config, TinyModels.randomWeights(config.parameterShapes(), m, dtype, 1));
    }

    private static Bert bert(NDManager m, DataType dtype) {
        var config = TinyModels.bertConfig(TinyModels.bertJson());
        return new Bert(config, TinyModels.randomWeights(config.parameterShapes(""), m, dtype, 2)).withClassifier(3, m, 3);
    }

    private static Objective objective(String family) {
        return family.equals("llama") ? new Objective.CausalLm(CausalLmLoss.FLOAT64)
                : new Objective.Classification(ClassificationLoss.PLAIN);
    }

    private static TrainingBatch batch(String family, NDManager m) {
        long[] a = {3, 14, 15, 9, 26, 5, 8};
        long[] b = {27, 18, 28, 4};
        List<TokenizedRow> rows = family.equals("llama")
                ? List.of(new TokenizedRow(a, a, null, null, null), new TokenizedRow(b, b, null, null, null))
                : List.of(new TokenizedRow(a, null, null, 2L, null), new TokenizedRow(b, null, null, 0L, null));
        return TrainingBatch.of(rows, 0, m);
    }

    private static double relativeDifference(double[] expected, double[] actual) {
        double[] difference = new double[expected.length];
        for (int i = 0; i < expected.length; i++) {
            difference[i] = actual[i] - expected[i];
        }
        return norm(difference) / norm(expected);
    }

    private static double norm(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x * x;
        }
        return Math.sqrt(sum);
    }
}
