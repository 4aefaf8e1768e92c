package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.nn.BlockCheckpoints.Outside;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.ModelFormatException;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.DistConfig;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * ZeRO-3's partitioning on its own, 4 ranks in threads: what a rank keeps between uses of a block or of the parameters
 * outside the blocks, and that gathering gives back the tensors bit for bit. Training through it is
 * {@code DataParallelTrainingTest}'s.
 */
class ShardedParametersTest {
    private static final int RANKS = 4;
    private static final int VOCABULARY = 61;
    private static final int HIDDEN = 32;

    @TempDir
    static Path dir;
    private static Path modelDir;

    @BeforeAll
    static void writeModel() {
        modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
    }

    /** What one rank saw: bytes kept, float tensors left in the model, and the gathered and restored values. */
    private record Seen(long keptBytes, long modelBytes, List<String> tensorsBetweenUses,
                        SortedMap<String, double[]> before, SortedMap<String, double[]> gathered,
                        SortedMap<String, double[]> restored, SortedMap<String, double[]> trainable) {
    }

    /**
     * With each block's tensors in one bucket, and in buckets of at most 100 elements
     * ({@code dist.allgather_bucket_size}), so that a block is gathered in many all-gathers.
     */
    @ParameterizedTest(name = "buckets of {0} elements")
    @ValueSource(longs = {DistConfig.DEFAULT_ALLGATHER_BUCKET_SIZE, 100})
    void eachRankKeepsAQuarterOfTheModelAndGathersItBackExactly(long bucketSize) {
        List<Seen> ranks = RankThreads.all(InProcessCollective.group(RANKS), collective -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                PeftModel model = PeftModel.apply(ModelDirectory.open(modelDir).load(manager, DataType.FLOAT64),
                        new Lora(4, 8, 0.0, List.of("q_proj", "down_proj"), false, false, List.of()), manager, 7);
                List<String> prefixes = model.base().layout().layerPrefixes();
                SortedMap<String, double[]> before = floatValues(model.weights().asMap());
                long modelBytes = before.values().stream().mapToLong(v -> 8L * v.length).sum();
                try (ShardedParameters sharded = new ShardedParameters(collective, model.weights(),
                        model.base().layout(), model.trainable(), bucketSize)) {
                    sharded.partition();
                    List<String> between = floatValues(model.weights().asMap()).keySet().stream().toList();
                    for (String name : List.of("model.layers.1.mlp.up_proj.weight", "model.embed_tokens.weight",
                            "lm_head.weight", "model.norm.weight")) {
                        ModelFormatException absent = assertThrows(ModelFormatException.class,
                                () -> model.weights().get(name));
                        assertTrue(absent.getMessage().contains("sharded over the ranks"), absent.getMessage());
                        assertTrue(model.weights().has(name), name + " is still the model's");
                    }
                    assertEquals(new Shape(VOCABULARY, HIDDEN), model.weights().shape("model.embed_tokens.weight"));
                    model.model(true);    // a model made now still finds every tensor's shape

                    SortedMap<String, double[]> gathered = new TreeMap<>();
                    sharded.gatherOutside(Outside.BEFORE_BLOCKS, false);
                    gathered.putAll(floatValues(model.weights().asMap()));
                    assertEquals(Set.of("model.embed_tokens.weight"), gathered.keySet(), "gathered before the blocks");
                    for (int layer = 0; layer < prefixes.size(); layer++) {
                        sharded.gather(layer, false);
                        SortedMap<String, double[]> block = floatValues(model.weights().asMap());
                        block.keySet().removeAll(gathered.keySet());
                        assertTrue(block.keySet().stream().allMatch(n -> n.startsWith(prefixes.get(blockOf(n)))));
                        gathered.putAll(block);
                        sharded.release(layer, false);
                    }
                    sharded.gatherOutside(Outside.AFTER_BLOCKS, false);
                    SortedMap<String, double[]> after = floatValues(model.weights().asMap());
                    after.keySet().removeAll(gathered.keySet());
                    assertEquals(Set.of("lm_head.weight", "model.norm.weight"), after.keySet(), "gathered after them");
                    gathered.putAll(after);
                    IllegalStateException held = assertThrows(IllegalStateException.class,
                            () -> sharded.unpartition(manager));
                    assertTrue(held.getMessage().contains("AFTER_BLOCKS"), held.getMessage());
                    sharded.releaseOutside(Outside.AFTER_BLOCKS, false);
                    sharded.releaseOutside(Outside.BEFORE_BLOCKS, false);
                    assertTrue(floatValues(model.weights().asMap()).isEmpty(), "released again");

                    SortedMap<String, double[]> trainable = new TreeMap<>();
                    try (NDManager into = NDManager.newBaseManager()) {
                        sharded.trainableTensors(into).forEach((name, t) -> trainable.put(name, t.toDoubleArray()));
                    }
                    sharded.unpartition(manager);
                    SortedMap<String, double[]> restored = floatValues(model.weights().asMap());
                    return new Seen(sharded.parameterBytes(), modelBytes, between, before, gathered, restored,
                            trainable);
                }
            }
        });
        assertEquals(ranks.get(0).modelBytes(), ranks.stream().mapToLong(Seen::keptBytes).sum(),
                "the shards add up to the model");
        for (int r = 0; r < RANKS; r++) {
            Seen seen = ranks.get(r);
            System.out.printf("rank %d keeps %d of the model's %d bytes between uses%n", r, seen.keptBytes(),
                    seen.modelBytes());
            assertTrue(seen.tensorsBetweenUses().isEmpty(), "left whole: " + seen.tensorsBetweenUses());
            // each bucket is split in 4, the first shards one element longer
            long perRank = seen.modelBytes() / RANKS;
            assertTrue(Math.abs(seen.keptBytes() - perRank) <= 0.05 * perRank, "kept " + seen.keptBytes());
            assertExactlyEqual(seen.before(), seen.gathered());
            assertExactlyEqual(seen.before(), seen.restored());
            SortedMap<String, double[]> trainableBefore = new TreeMap<>(seen.before());
            trainableBefore.keySet().retainAll(seen.trainable().keySet());
            assertEquals(8, seen.trainable().size(), "lora_A and lora_B of q_proj and down_proj in 2 blocks");
            assertExactlyEqual(trainableBefore, seen.trainable());
        }
    }

    private static SortedMap<String, double[]> floatValues(Map<String, NDArray> tensors) {
        SortedMap<String, double[]> out = new TreeMap<>();
        tensors.forEach((name, t) -> {
            if (t.getDataType().isFloating()) {
                out.put(name, t.toDoubleArray());
            }
        });
        return out;
    }

    private static int blockOf(String name) {
        return ModelLayout.layerOf(name).orElseThrow();
    }

    private static void assertExactlyEqual(SortedMap<String, double[]> expected, SortedMap<String, double[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        assertFalse(expected.isEmpty());
        expected.forEach((name, values) -> assertArrayEquals(values, actual.get(name), 0.0, name));
    }
}
