package dev.sparktune.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.KvCache;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class PeftMethodsTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    static Lora lora(boolean dora, boolean rslora) {
        return new Lora(4, 8, 0.0, List.of("all"), rslora, dora, List.of());
    }

    static Stream<Arguments> identityAtInit() {
        return Stream.of("llama", "bert").flatMap(f -> Stream.of(
                Arguments.of(f, "lora", lora(false, false)),
                Arguments.of(f, "rslora", lora(false, true)),
                Arguments.of(f, "dora", lora(true, false)),
                Arguments.of(f, "adapter", new BottleneckAdapter(8))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("identityAtInit")
    void atInitialisationTheAdaptedModelEqualsTheBase(String family, String name, Method method) {
        PretrainedModel base = TinyBases.base(family, manager, DataType.FLOAT32);
        PeftModel adapted = PeftModel.apply(base, method, manager, 5);

        double diff = Forward.run(base, manager).sub(Forward.run(adapted.model(false), manager)).abs().max().getFloat();
        assertTrue(diff <= 1e-6, "max abs difference " + diff);
    }

    static Stream<Arguments> mergeable() {
        return Stream.of("llama", "bert").flatMap(f -> Stream.of(
                Arguments.of(f, lora(false, false)), Arguments.of(f, lora(true, false))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("mergeable")
    void afterUpdatesTheMergedModelEqualsTheUnmergedAndUnmergeRestoresTheBase(String family, Lora method) {
        PretrainedModel base = TinyBases.base(family, manager, DataType.FLOAT32);
        PeftModel adapted = PeftModel.apply(base, method, manager, 6);
        // stand-in for training: every LoRA tensor moves away from its initial value
        Random random = new Random(7);
        for (String name : adapted.trainable()) {
            if (name.contains("lora_")) {
                NDArray t = adapted.weights().get(name);
                double[] noise = random.doubles(t.getShape().size()).map(x -> 0.1 * (x - 0.5)).toArray();
                t.addi(manager.create(noise, t.getShape()).toType(t.getDataType(), false));
            }
        }
        NDArray unmerged = Forward.run(adapted.model(false), manager);

        LoraMerge.Merged merged = LoraMerge.merge(adapted, manager);
        PretrainedModel plain = base.with(new Weights(merged.weights(), "merged"),
                ForwardHooks.NONE);
        double diff = unmerged.sub(Forward.run(plain, manager)).abs().max().getFloat();
        assertTrue(diff <= 1e-5, "merged vs unmerged: " + diff);
        assertTrue(unmerged.sub(Forward.run(base, manager)).abs().max().getFloat() > 1e-3, "the update must matter");

        Map<String, NDArray> restored = LoraMerge.unmerge(merged, adapted, manager);
        for (Map.Entry<String, NDArray> e : base.weights().asMap().entrySet()) {
            double d = restored.get(e.getKey()).sub(e.getValue()).abs().max().getFloat();
            assertTrue(d <= 1e-5, e.getKey() + " restored within " + d);
        }
    }

    static Stream<Arguments> everyMethod() {
        return Stream.of("llama", "bert").flatMap(f -> Stream.of(
                Arguments.of(f, new FullFineTuning()),
                Arguments.of(f, new Freeze(1, List.of())),
                Arguments.of(f, new BitFit()),
                Arguments.of(f, new Lora(4, 8, 0.1, List.of("all"), false, false, List.of())),
                Arguments.of(f, lora(true, false)),
                Arguments.of(f, new BottleneckAdapter(8)),
                Arguments.of(f, new PrefixTuning(3, false, 16)),
                Arguments.of(f, new PrefixTuning(3, true, 16)),
                Arguments.of(f, new PromptTuning(3, null, null))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("everyMethod")
    void afterOneBackwardOnlyTrainableTensorsHaveGradients(String family, Method method) {
        PretrainedModel base = TinyBases.base(family, manager, DataType.FLOAT32);
        PeftModel adapted = PeftModel.apply(base, method, manager, 8);
        adapted.requireGradients();
        try (NDManager step = manager.newSubManager();
             GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(Forward.run(adapted.model(true), step).square().mean());   // not pow(2): see nn.Scalars
        }
        assertFalse(adapted.trainable().isEmpty());
        for (Map.Entry<String, NDArray> e : adapted.weights().asMap().entrySet()) {
            boolean trains = adapted.trainable().contains(e.getKey());
            assertEquals(trains, e.getValue().hasGradient(), e.getKey());
        }
        double gradientNorm = adapted.trainableTensors().values().stream()
                .mapToDouble(t -> t.getGradient().norm().getFloat()).sum();
        assertTrue(gradientNorm > 0, "some trainable tensor must receive a non-zero gradient");
    }

    static Stream<Method> virtualTokenMethods() {
        return Stream.of(new PrefixTuning(3, false, 16), new PrefixTuning(3, true, 16), new PromptTuning(3, null, null));
    }

    /** Virtual tokens sit in the KV cache after the first step, so incremental decoding must equal the full pass. */
    @ParameterizedTest
    @MethodSource("virtualTokenMethods")
    void kvCacheDecodingWithVirtualTokensEqualsTheFullForward(Method method) {
        PeftModel adapted = PeftModel.apply(TinyBases.llama(manager, DataType.FLOAT32), method, manager, 9);
        Llama model = (Llama) adapted.model(false);
        long[][] ids = {{3, 14, 15, 9, 26, 5}};
        NDArray full = model.logits(manager.create(ids), TinyModels.positions(manager, 1, 6), AttentionMask.causal(null), null);

        NDArray[] parts = new NDArray[3];
        int[] cuts = {0, 4, 5, 6};
        try (KvCache cache = new KvCache(manager, 2)) {
            for (int s = 0; s < 3; s++) {
                try (NDManager step = manager.newSubManager()) {
                    long[][] chunk = {Arrays.copyOfRange(ids[0], cuts[s], cuts[s + 1])};
                    NDArray positions = step.arange((long) cuts[s], cuts[s + 1], 1L, DataType.INT64).reshape(1, -1);
                    long[][] keep = {new long[cuts[s + 1]]};
                    Arrays.fill(keep[0], 1);
                    parts[s] = model.logits(step.create(chunk), positions, AttentionMask.causal(step.create(keep)), cache);
                    parts[s].attach(manager);
                }
            }
        }
        NDArray incremental = parts[0].concat(parts[1], 1).concat(parts[2], 1);
        double diff = full.sub(incremental).abs().max().getFloat();
        assertTrue(diff <= 1e-5, "cached vs full: " + diff);
        NDArray plain = ((Llama) adapted.base()).logits(manager.create(ids), TinyModels.positions(manager, 1, 6),
                AttentionMask.causal(null), null);
        assertTrue(full.sub(plain).abs().max().getFloat() > 1e-3, "the virtual tokens must change the output");
    }

    @Test
    void trainableCountsFollowTheClosedForm() {
        PretrainedModel llama = TinyBases.llama(manager, DataType.FLOAT32);
        // hidden 32, 4 heads of 8, 2 kv heads: q [32, 32], v [16, 32]; 2 layers
        PeftModel qv = PeftModel.apply(llama, new Lora(8, 16, 0, List.of("q_proj", "v_proj"), false, false, List.of()), manager, 1);
        assertEquals(2 * (8 * (32 + 32) + 8 * (32 + 16)), qv.report().trainable());

        PeftModel dora = PeftModel.apply(llama, new Lora(8, 16, 0, List.of("q_proj", "v_proj"), false, true, List.of()), manager, 1);
        assertEquals(2 * (8 * (32 + 32) + 32 + 8 * (32 + 16) + 16), dora.report().trainable());

        long all = llama.weights().asMap().values().stream().mapToLong(t -> t.getShape().size()).sum();
        PeftModel bitfit = PeftModel.apply(llama, new BitFit(), manager, 1);
        assertEquals(2 * (32 + 16 + 16), bitfit.report().trainable(), "Qwen2's q, k, v biases per layer");
        assertEquals(all, bitfit.report().all());

        PeftModel prefix = PeftModel.apply(llama, new PrefixTuning(5, false, 16), manager, 1);
        assertEquals(5L * 2 * 2 * 2 * 8, prefix.report().trainable(), "P x layers x (k, v) x kv heads x head dim");
        assertEquals(all + 5L * 2 * 2 * 2 * 8, prefix.report().all());
    }

    @Test
    void freezeTrainsTheTopOrBottomLayersAndNamedExtras() {
        PretrainedModel llama = TinyBases.llama(manager, DataType.FLOAT32);
        PeftModel top = PeftModel.apply(llama, new Freeze(1, List.of("norm")), manager, 1);
        assertTrue(top.trainable().contains("model.layers.1.mlp.up_proj.weight"));
        assertFalse(top.trainable().contains("model.layers.0.mlp.up_proj.weight"));
        assertTrue(top.trainable().contains("model.norm.weight"));
        assertFalse(top.trainable().contains("model.embed_tokens.weight"));

        PeftModel bottom = PeftModel.apply(llama, new Freeze(-1, List.of()), manager, 1);
        assertTrue(bottom.trainable().contains("model.layers.0.mlp.up_proj.weight"));
        assertFalse(bottom.trainable().contains("model.layers.1.mlp.up_proj.weight"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "bert"})
    void loraTargetThatMatchesNothingListsTheModules(String family) {
        PretrainedModel base = TinyBases.base(family, manager, DataType.FLOAT32);
        Lora wrong = new Lora(4, 8, 0, List.of("qkv_proj"), false, false, List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftModel.apply(base, wrong, manager, 1));
        String expected = family.equals("llama") ? "[down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj]"
                : "[classifier, dense, key, query, value]";
        assertTrue(e.getMessage().startsWith("lora_target [qkv_proj] matches no linear module; this model's are " + expected),
                e.getMessage());
    }

    @Test
    void loraTargetRegexSelectsByFullPath() {
        PretrainedModel llama = TinyBases.llama(manager, DataType.FLOAT32);
        Lora regex = new Lora(2, 4, 0, List.of(".*layers\\.1\\.self_attn\\.(q|v)_proj"), false, false, List.of());
        assertEquals(List.of("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"),
                regex.targetModules(llama.layout()));
    }
}
