package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path dir;

    /** A small model's worth of HF-named tensors: 4·16·4 + 16·4 + 4·4 + 8·4·8 + 8·2 bytes. */
    private static Map<String, NDArray> tensors(NDManager manager) {
        Map<String, NDArray> t = new TreeMap<>();
        t.put("model.embed_tokens.weight", manager.arange(64f).reshape(4, 16));
        t.put("model.layers.0.mlp.up_proj.weight", manager.arange(16f).reshape(16, 1).neg());
        t.put("model.layers.0.input_layernorm.weight", manager.ones(new Shape(4)));
        t.put("model.layers.0.self_attn.q_proj.weight", manager.arange(32).reshape(4, 8).toType(DataType.INT64, false));
        t.put("model.norm.weight", manager.arange(8f).toType(DataType.FLOAT16, false));
        return t;
    }

    private static long bytes(NDArray a) {
        return a.size() * a.getDataType().getNumOfBytes();
    }

    @Test
    void smallModelIsOneFile() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = tensors(manager);
            Checkpoint.save(dir, saved, 1 << 20);
            assertEquals(List.of(Checkpoint.SINGLE_FILE), fileNames());
            try (SafetensorsFile file = SafetensorsFile.open(dir.resolve(Checkpoint.SINGLE_FILE))) {
                assertEquals(Map.of("format", "pt"), file.metadata());
            }
            assertSameTensors(saved, Checkpoint.load(dir, manager));
        }
    }

    @Test
    void largeModelIsShardedWithAnIndex() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = tensors(manager);
            long max = 300;
            Checkpoint.save(dir, saved, max);

            JsonObject index = JsonParser.parseString(Files.readString(dir.resolve(Checkpoint.INDEX_FILE))).getAsJsonObject();
            long expectedTotal = saved.values().stream().mapToLong(CheckpointTest::bytes).sum();
            assertEquals(64 * 4 + 16 * 4 + 4 * 4 + 32 * 8 + 8 * 2, expectedTotal);
            assertEquals(expectedTotal, index.getAsJsonObject("metadata").get("total_size").getAsLong());
            JsonObject weightMap = index.getAsJsonObject("weight_map");
            assertEquals(saved.keySet(), weightMap.keySet());

            Set<String> shards = new TreeSet<>();
            weightMap.entrySet().forEach(e -> shards.add(e.getValue().getAsString()));
            assertTrue(shards.size() > 1, "several shards: " + shards);
            List<String> expectedFiles = new ArrayList<>();
            for (int i = 1; i <= shards.size(); i++) {
                expectedFiles.add(String.format("model-%05d-of-%05d.safetensors", i, shards.size()));
            }
            assertEquals(expectedFiles, List.copyOf(shards));
            List<String> allFiles = new ArrayList<>(expectedFiles);
            allFiles.add(Checkpoint.INDEX_FILE);
            assertEquals(allFiles, fileNames());

            for (String shard : shards) {
                try (SafetensorsFile file = SafetensorsFile.open(dir.resolve(shard))) {
                    assertEquals(Map.of("format", "pt"), file.metadata());
                    long shardBytes = file.tensors().stream().mapToLong(TensorInfo::length).sum();
                    assertTrue(shardBytes <= max || file.tensors().size() == 1, shard + " holds " + shardBytes + " bytes");
                    for (TensorInfo t : file.tensors()) {
                        assertEquals(shard, weightMap.get(t.name()).getAsString(), t.name());
                    }
                }
            }
            assertSameTensors(saved, Checkpoint.load(dir, manager));
        }
    }

    @Test
    void aTensorLargerThanTheLimitGetsAShardOfItsOwn() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = Map.of("a", manager.ones(new Shape(2)), "b", manager.ones(new Shape(100)),
                    "c", manager.ones(new Shape(2)));
            Checkpoint.save(dir, saved, 16);
            JsonObject weightMap = weightMap();
            assertEquals("model-00001-of-00003.safetensors", weightMap.get("a").getAsString());
            assertEquals("model-00002-of-00003.safetensors", weightMap.get("b").getAsString());
            assertEquals("model-00003-of-00003.safetensors", weightMap.get("c").getAsString());
            assertSameTensors(saved, Checkpoint.load(dir, manager));
        }
    }

    @Test
    void savingAgainRemovesWeightFilesItDoesNotReplace() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = tensors(manager);
            Checkpoint.save(dir, saved, 200);
            assertTrue(fileNames().size() > 3);
            Checkpoint.save(dir, saved, 400);
            List<String> fewer = fileNames();
            assertTrue(fewer.stream().allMatch(f -> f.equals("config.json") || f.equals(Checkpoint.INDEX_FILE)
                    || f.endsWith("-of-0000" + (fewer.size() - 2) + ".safetensors")), fewer.toString());
            Checkpoint.save(dir, saved, 1 << 20);
            assertEquals(List.of("config.json", Checkpoint.SINGLE_FILE), fileNames());
            assertSameTensors(saved, Checkpoint.load(dir, manager));
        }
    }

    @Test
    void folderWithoutWeightsListsWhatItHolds() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{}");
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        try (NDManager manager = NDManager.newBaseManager()) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(dir, manager));
            assertTrue(e.getMessage().startsWith(dir + ": holds neither model.safetensors nor model.safetensors.index.json"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("config.json, tokenizer.json"), e.getMessage());

            CheckpointException absent = assertThrows(CheckpointException.class,
                    () -> Checkpoint.load(dir.resolve("nowhere"), manager));
            assertTrue(absent.getMessage().contains("does not exist"), absent.getMessage());
        }
    }

    @Test
    void missingShardIsNamed() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Checkpoint.save(dir, tensors(manager), 200);
            String lost = weightMap().get("model.layers.0.mlp.up_proj.weight").getAsString();
            Files.delete(dir.resolve(lost));
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(dir, manager));
            assertTrue(e.getMessage().startsWith(dir.resolve(Checkpoint.INDEX_FILE) + ": tensor '"), e.getMessage());
            assertTrue(e.getMessage().contains(lost), e.getMessage());
            assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        }
    }

    @Test
    void tensorListedInTheIndexButAbsentFromItsShardIsNamed() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Checkpoint.save(dir, tensors(manager), 200);
            JsonObject index = JsonParser.parseString(Files.readString(dir.resolve(Checkpoint.INDEX_FILE))).getAsJsonObject();
            JsonObject weightMap = index.getAsJsonObject("weight_map");
            String wrongShard = weightMap.get("model.embed_tokens.weight").getAsString();
            assertNotEquals(wrongShard, weightMap.get("model.norm.weight").getAsString());
            weightMap.addProperty("model.norm.weight", wrongShard);
            Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), index.toString());
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(dir, manager));
            assertEquals(dir.resolve(wrongShard), e.file());
            assertTrue(e.getMessage().contains("tensor 'model.norm.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("not in it"), e.getMessage());
        }
    }

    @Test
    void indexMayNotPointOutsideTheFolder() throws IOException {
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE),
                "{\"metadata\": {\"total_size\": 4}, \"weight_map\": {\"x\": \"../elsewhere.safetensors\"}}");
        try (NDManager manager = NDManager.newBaseManager()) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(dir, manager));
            assertTrue(e.getMessage().contains("tensor 'x'"), e.getMessage());
            assertTrue(e.getMessage().contains("../elsewhere.safetensors"), e.getMessage());
        }
    }

    private JsonObject weightMap() throws IOException {
        return JsonParser.parseString(Files.readString(dir.resolve(Checkpoint.INDEX_FILE)))
                .getAsJsonObject().getAsJsonObject("weight_map");
    }

    private List<String> fileNames() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertSameTensors(Map<String, NDArray> expected, SortedMap<String, NDArray> actual) {
        assertEquals(new ArrayList<>(new TreeSet<>(expected.keySet())), new ArrayList<>(actual.keySet()),
                "every tensor, sorted by name");
        for (String name : expected.keySet()) {
            assertEquals(expected.get(name).getShape(), actual.get(name).getShape(), name);
            assertEquals(expected.get(name).getDataType(), actual.get(name).getDataType(), name);
            assertArrayEquals(HandLaid.bytesOf(expected.get(name)), HandLaid.bytesOf(actual.get(name)), name);
        }
    }
}
