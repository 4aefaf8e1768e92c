package dev.sparktune.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.nn.AttentionMask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelDirectoryTest {
    private static final String LLAMA = TinyModels.llamaJson("llama", 4, 2, false, "");
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

    private NDArray logits(Llama model) {
        NDArray ids = manager.create(new long[][] {{3, 14, 15, 9, 26}});
        return model.logits(ids, TinyModels.positions(manager, 1, 5), AttentionMask.causal(null), null);
    }

    @Test
    void loadSaveLoadGivesIdenticalTensorsAndLogits() {
        Llama first = (Llama) ModelDirectory.open(TinyModels.writeRandom(dir.resolve("a"), LLAMA, 1)).load(manager, DataType.FLOAT32);
        ModelDirectory copy = ModelDirectory.write(dir.resolve("b"), ModelDirectory.open(dir.resolve("a")).configJson(),
                first.weights().asMap(), Long.MAX_VALUE, dir.resolve("a"));
        Llama second = (Llama) copy.load(manager, DataType.FLOAT32);

        assertEquals(first.weights().asMap().keySet(), second.weights().asMap().keySet());
        first.weights().asMap().forEach((name, t) -> assertEquals(t, second.weights().get(name), name));
        assertEquals(logits(first), logits(second));
    }

    @Test
    void shardedCheckpointLoadsToTheSameModel() throws Exception {
        Llama single = (Llama) ModelDirectory.open(TinyModels.writeRandom(dir.resolve("a"), LLAMA, 2)).load(manager, DataType.FLOAT32);
        ModelDirectory sharded = ModelDirectory.write(dir.resolve("sharded"), LLAMA, single.weights().asMap(), 20_000, null);

        assertTrue(Files.exists(sharded.path().resolve(Checkpoint.INDEX_FILE)));
        try (var files = Files.list(sharded.path())) {
            long shards = files.filter(f -> f.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count();
            assertTrue(shards > 1, shards + " shard(s)");
        }
        assertEquals(logits(single), logits((Llama) sharded.load(manager, DataType.FLOAT32)));
    }

    @Test
    void bertFolderLoadsAsBert() {
        PretrainedModel model = ModelDirectory.open(TinyModels.writeRandom(dir.resolve("bert"), TinyModels.bertJson(), 3))
                .load(manager, DataType.FLOAT64);
        Bert bert = assertInstanceOf(Bert.class, model);
        assertEquals(DataType.FLOAT64, bert.weights().get("embeddings.word_embeddings.weight").getDataType());
    }

    @Test
    void missingTensorIsNamed() {
        Path model = TinyModels.writeRandom(dir.resolve("a"), LLAMA, 4);
        SortedMap<String, NDArray> tensors = new TreeMap<>(Checkpoint.load(model, manager));
        tensors.remove("model.layers.1.mlp.up_proj.weight");
        Checkpoint.save(model, tensors, Long.MAX_VALUE);

        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> ModelDirectory.open(model).load(manager, DataType.FLOAT32));
        assertTrue(e.getMessage().contains("missing tensor 'model.layers.1.mlp.up_proj.weight' (48, 32)"), e.getMessage());
    }

    @Test
    void wrongShapeIsNamedWithBothShapes() {
        Path model = TinyModels.writeRandom(dir.resolve("a"), LLAMA, 5);
        Map<String, NDArray> tensors = new TreeMap<>(Checkpoint.load(model, manager));
        tensors.put("model.layers.0.self_attn.k_proj.weight", manager.zeros(new Shape(32, 32)));
        Checkpoint.save(model, tensors, Long.MAX_VALUE);

        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> ModelDirectory.open(model).load(manager, DataType.FLOAT32));
        assertTrue(e.getMessage().contains("tensor 'model.layers.0.self_attn.k_proj.weight' has shape (32, 32),"
                + " config.json implies (16, 32)"), e.getMessage());
    }

    @Test
    void unsupportedModelTypeAndMissingFieldsAreNamed() throws Exception {
        Path gpt2 = Files.createDirectories(dir.resolve("gpt2"));
        Files.writeString(gpt2.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": 768}");
        ModelFormatException type = assertThrows(ModelFormatException.class, () -> ModelDirectory.open(gpt2));
        assertEquals(gpt2.resolve("config.json") + ": model_type 'gpt2' is not supported; supported: bert, llama, mistral, qwen2",
                type.getMessage());

        Path noHidden = TinyModels.writeRandom(dir.resolve("a"), LLAMA, 6);
        Files.writeString(noHidden.resolve("config.json"), LLAMA.replace("\"hidden_size\": 32,", ""));
        ModelFormatException field = assertThrows(ModelFormatException.class,
                () -> ModelDirectory.open(noHidden).load(manager, DataType.FLOAT32));
        assertEquals(noHidden.resolve("config.json") + ": required field 'hidden_size' is missing", field.getMessage());

        Path empty = Files.createDirectories(dir.resolve("empty"));
        ModelFormatException noConfig = assertThrows(ModelFormatException.class, () -> ModelDirectory.open(empty));
        assertEquals(empty.resolve("config.json") + ": missing; a model directory needs config.json", noConfig.getMessage());
    }
}
