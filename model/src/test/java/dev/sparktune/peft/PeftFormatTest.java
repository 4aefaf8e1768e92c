package dev.sparktune.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.DType;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Adapter files as PEFT lays them out, read back as raw safetensors; and load(save(x)) = x. */
class PeftFormatTest {
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

    /** Moves every trainable tensor off its initial value, as training would. */
    private void perturb(PeftModel model) {
        for (NDArray t : model.trainableTensors().values()) {
            t.addi(manager.randomNormal(0, 0.05f, t.getShape(), DataType.FLOAT32).toType(t.getDataType(), false));
        }
    }

    private static Map<String, TensorInfo> raw(Path adapter) {
        try (SafetensorsFile file = SafetensorsFile.open(adapter.resolve(PeftFormat.WEIGHTS_FILE))) {
            assertEquals(Map.of("format", "pt"), file.metadata());
            Map<String, TensorInfo> out = new TreeMap<>();
            file.tensors().forEach(t -> out.put(t.name(), t));
            return out;
        }
    }

    private static JsonObject config(Path adapter) throws Exception {
        return JsonParser.parseString(Files.readString(adapter.resolve(PeftFormat.CONFIG_FILE))).getAsJsonObject();
    }

    @Test
    void loraOnLlamaUsesPeftKeysShapesAndConfig() throws Exception {
        PretrainedModel base = TinyBases.llama(manager, DataType.FLOAT32);
        PeftModel model = PeftModel.apply(base, new Lora(4, 16, 0.05, List.of("q_proj", "v_proj"), false, true, List.of()), manager, 1);
        PeftFormat.save(model, dir, "tiny-qwen2");

        Map<String, TensorInfo> tensors = raw(dir);
        assertEquals(2 * 2 * 3, tensors.size(), tensors.keySet().toString());
        TensorInfo a = tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
        TensorInfo b = tensors.get("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight");
        TensorInfo m = tensors.get("base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector");
        assertEquals(List.of(4L, 32L), a.shape(), "lora_A is [r, in]");
        assertEquals(List.of(16L, 4L), b.shape(), "lora_B is [out, r]");
        assertEquals(List.of(16L), m.shape());
        assertEquals(DType.F32, a.dtype());

        JsonObject c = config(dir);
        assertEquals("LORA", c.get("peft_type").getAsString());
        assertEquals("CAUSAL_LM", c.get("task_type").getAsString());
        assertEquals(4, c.get("r").getAsInt());
        assertEquals(16.0, c.get("lora_alpha").getAsDouble());
        assertEquals(0.05, c.get("lora_dropout").getAsDouble());
        assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                        "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"),
                c.getAsJsonArray("target_modules").asList().stream().map(e -> e.getAsString()).toList());
        assertTrue(c.get("use_dora").getAsBoolean());
        assertEquals("tiny-qwen2", c.get("base_model_name_or_path").getAsString());
        assertTrue(c.get("modules_to_save").isJsonNull());
    }

    @Test
    void loraOnABertClassifierSavesTheHeadAndUsesTheSequenceClassificationPaths() throws Exception {
        PretrainedModel base = TinyBases.bertClassifier(manager, DataType.FLOAT32);
        PeftModel model = PeftModel.apply(base, new Lora(8, 8, 0, List.of("query", "value"), false, false, List.of()), manager, 1);
        PeftFormat.save(model, dir, "tiny-bert");

        Map<String, TensorInfo> tensors = raw(dir);
        assertTrue(tensors.containsKey("base_model.model.bert.encoder.layer.1.attention.self.query.lora_A.weight"), tensors.keySet().toString());
        assertEquals(List.of(3L, 32L), tensors.get("base_model.model.classifier.weight").shape());
        assertEquals(List.of(3L), tensors.get("base_model.model.classifier.bias").shape());
        JsonObject c = config(dir);
        assertEquals("SEQ_CLS", c.get("task_type").getAsString());
        assertEquals("classifier", c.getAsJsonArray("modules_to_save").get(0).getAsString());
    }

    @Test
    void promptLearningSavesPromptEmbeddingsInPeftsLayout() throws Exception {
        PretrainedModel base = TinyBases.llama(manager, DataType.FLOAT32);
        PeftFormat.save(PeftModel.apply(base, new PrefixTuning(5, true, 16), manager, 1), dir.resolve("prefix"), "b");
        assertEquals(List.of(5L, 2L * 2 * 2 * 8), raw(dir.resolve("prefix")).get("prompt_embeddings").shape(),
                "[P, layers * 2 * kv heads * head dim]");
        JsonObject prefix = config(dir.resolve("prefix"));
        assertEquals("PREFIX_TUNING", prefix.get("peft_type").getAsString());
        assertEquals(2, prefix.get("num_attention_heads").getAsInt(), "key/value heads");
        assertEquals(16, prefix.get("token_dim").getAsInt());

        PeftFormat.save(PeftModel.apply(base, new PromptTuning(4, null, null), manager, 1), dir.resolve("prompt"), "b");
        assertEquals(List.of(4L, 32L), raw(dir.resolve("prompt")).get("prompt_embeddings").shape());
        assertEquals("PROMPT_TUNING", config(dir.resolve("prompt")).get("peft_type").getAsString());
    }

    static Stream<Arguments> adapters() {
        return Stream.of("llama", "bert").flatMap(f -> Stream.of(
                Arguments.of(f, new Lora(4, 8, 0, List.of("all"), true, false, List.of())),
                Arguments.of(f, new Lora(4, 8, 0, List.of("all"), false, true, List.of())),
                Arguments.of(f, new BottleneckAdapter(6)),
                Arguments.of(f, new PrefixTuning(3, true, 16)),
                Arguments.of(f, new PromptTuning(3, null, null))));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("adapters")
    void loadOfSaveGivesTheSameTensorsAndOutputs(String family, Method method) {
        PretrainedModel base = TinyBases.base(family, manager, DataType.FLOAT32);
        PeftModel trained = PeftModel.apply(base, method, manager, 2);
        perturb(trained);
        PeftFormat.save(trained, dir, "base");

        PeftModel loaded = PeftFormat.load(dir, base, manager);

        NDArray expected = Forward.run(trained.model(false), manager);
        NDArray actual = Forward.run(loaded.model(false), manager);
        assertTrue(expected.sub(actual).abs().max().getFloat() <= 1e-6, "outputs differ after the round trip");
        if (!(method instanceof PrefixTuning)) {
            // prefix tuning is saved as its computed table, as PEFT saves it; everything else tensor for tensor
            assertEquals(trained.trainable(), loaded.trainable());
            trained.trainableTensors().forEach((name, t) -> assertEquals(t, loaded.weights().get(name), name));
        }
    }

    @Test
    void anAdapterTrainedInFloat64LoadsOntoAFloat32BaseInFloat32() {
        PeftModel trained = PeftModel.apply(TinyBases.base("bert", manager, DataType.FLOAT64),
                new Lora(4, 8, 0, List.of("all"), false, false, List.of()), manager, 2);
        perturb(trained);
        PeftFormat.save(trained, dir, "base");

        PeftModel loaded = PeftFormat.load(dir, TinyBases.base("bert", manager, DataType.FLOAT32), manager);

        loaded.trainableTensors().values().forEach(t -> assertEquals(DataType.FLOAT32, t.getDataType()));
        NDArray expected = Forward.run(trained.model(false), manager).toType(DataType.FLOAT32, false);
        NDArray actual = Forward.run(loaded.model(false), manager);
        assertTrue(expected.sub(actual).abs().max().getFloat() <= 1e-5, "outputs of the float32 load differ");
    }

    @Test
    void mergedExportIsAPlainHuggingFaceFolderWithTheAdaptedOutputs() {
        Path source = TinyModels.writeRandom(dir.resolve("base"),
                TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
        ModelDirectory baseDir = ModelDirectory.open(source);
        PretrainedModel base = baseDir.load(manager, DataType.FLOAT32);
        PeftModel trained = PeftModel.apply(base, new Lora(4, 8, 0, List.of("all"), false, true, List.of()), manager, 2);
        perturb(trained);

        ModelDirectory merged = LoraMerge.export(trained, baseDir, dir.resolve("merged"), Long.MAX_VALUE);
        PretrainedModel reloaded = merged.load(manager, DataType.FLOAT32);

        assertTrue(reloaded.weights().asMap().keySet().stream().noneMatch(n -> n.contains("lora_")));
        double diff = Forward.run(trained.model(false), manager).sub(Forward.run(reloaded, manager)).abs().max().getFloat();
        assertTrue(diff <= 1e-5, "merged export differs by " + diff);
    }

    @Test
    void methodsThatTrainBaseWeightsAreNotAdapters() {
        PretrainedModel base = TinyBases.llama(manager, DataType.FLOAT32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeftFormat.save(PeftModel.apply(base, new FullFineTuning(), manager, 1), dir, "b"));
        assertTrue(e.getMessage().contains("save the whole model as a Hugging Face folder"), e.getMessage());
    }
}
