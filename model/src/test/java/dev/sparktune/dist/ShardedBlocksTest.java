package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.ModelFormatException;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.config.DistConfig;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * ZeRO-3's partitioning on its own, 4 ranks in threads: what a rank keeps between uses of a block, and that gathering
 * gives back the tensors bit for bit. Training through it is {@code DataParallelTrainingTest}'s.
 */
class ShardedBlocksTest {
    private static final int RANKS = 4;

    @TempDir
    static Path dir;
    private static Path modelDir;

    @BeforeAll
    static void writeModel() {
        modelDir = TinyModels.writeRandom(dir.resolve("model"), TinyModels.llamaJson("llama", 4, 2, false, ""), 3);
    }

    /** What one rank saw: bytes kept, block tensors left in the model, and the gathered and restored values. */
    private record Seen(long keptBytes, long blockBytes, List<String> blockTensorsBetweenUses,
                        SortedMap<String, double[]> before, SortedMap<String, double[]> gathered,
                        SortedMap<String, double[]> restored, SortedMap<String, double[]> trainable) {
    }

    /**
     * With each block's tensors in one bucket, and in buckets of at most 100 elements
     * ({@code dist.allgather_bucket_size}), so that a block is gathered in many all-gathers.
     */
    @ParameterizedTest(name = "buckets of {0} elements")
    @ValueSource(longs = {DistConfig.DEFAULT_ALLGATHER_BUCKET_SIZE, 100})
    void eachRankKeepsAQuarterOfTheBlocksAndGathersThemBackExactly(long bucketSize) {
        List<Seen> ranks = RankThreads.all(InProcessCollective.group(RANKS), collective -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                PeftModel model = PeftModel.apply(ModelDirectory.open(modelDir).load(manager, DataType.FLOAT64),
                        new Lora(4, 8, 0.0, List.of("q_proj", "down_proj"), false, false, List.of()), manager, 7);
                List<String> prefixes = model.base().layout().layerPrefixes();
                SortedMap<String, double[]> before = blockValues(model.weights().asMap(), prefixes);
                long blockBytes = before.values().stream().mapToLong(v -> 8L * v.length).sum();
                try (ShardedBlocks blocks = new ShardedBlocks(collective, model.weights(), prefixes, model.trainable(),
                        bucketSize)) {
                    blocks.partition();
                    List<String> between = blockValues(model.weights().asMap(), prefixes).keySet().stream().toList();
                    ModelFormatException absent = assertThrows(ModelFormatException.class,
                            () -> model.weights().get("model.layers.1.mlp.up_proj.weight"));
                    assertTrue(absent.getMessage().contains("sharded over the ranks"), absent.getMessage());

                    SortedMap<String, double[]> gathered = new TreeMap<>();
                    for (int layer = 0; layer < prefixes.size(); layer++) {
                        blocks.gather(layer, false);
                        gathered.putAll(blockValues(model.weights().asMap(), List.of(prefixes.get(layer))));
                        blocks.release(layer, false);
                    }
                    SortedMap<String, double[]> trainable = new TreeMap<>();
                    try (NDManager into = NDManager.newBaseManager()) {
                        blocks.trainableTensors(into).forEach((name, t) -> trainable.put(name, t.toDoubleArray()));
                    }
                    blocks.unpartition(manager);
                    SortedMap<String, double[]> restored = blockValues(model.weights().asMap(), prefixes);
                    return new Seen(blocks.parameterBytes(), blockBytes, between, before, gathered, restored, trainable);
                }
            }
        });
        assertEquals(ranks.get(0).blockBytes(), ranks.stream().mapToLong(Seen::keptBytes).sum(),
                "the shards add up to the blocks");
        for (int r = 0; r < RANKS; r++) {
            Seen seen = ranks.get(r);
            System.out.printf("rank %d keeps %d of the blocks' %d bytes between uses%n", r, seen.keptBytes(),
                    seen.blockBytes());
            assertTrue(seen.blockTensorsBetweenUses().isEmpty(), "left whole: " + seen.blockTensorsBetweenUses());
            // each bucket is split in 4, the first shards one element longer
            long perRank = seen.blockBytes() / RANKS;
            assertTrue(Math.abs(seen.keptBytes() - perRank) <= 0.05 * perRank, "kept " + seen.keptBytes());
            assertExactlyEqual(seen.before(), seen.gathered());
            assertExactlyEqual(seen.before(), seen.restored());
            SortedMap<String, double[]> trainableBefore = new TreeMap<>(seen.before());
            trainableBefore.keySet().retainAll(seen.trainable().keySet());
            assertEquals(8, seen.trainable().size(), "lora_A and lora_B of q_proj and down_proj in 2 blocks");
            assertExactlyEqual(trainableBefore, seen.trainable());
        }
    }

    private static SortedMap<String, double[]> blockValues(Map<String, NDArray> tensors, List<String> prefixes) {
        SortedMap<String, double[]> out = new TreeMap<>();
        tensors.forEach((name, t) -> {
            if (prefixes.stream().anyMatch(p -> name.startsWith(p + "."))) {
                out.put(name, t.toDoubleArray());
            }
        });
        return out;
    }

    private static void assertExactlyEqual(SortedMap<String, double[]> expected, SortedMap<String, double[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        assertFalse(expected.isEmpty());
        expected.forEach((name, values) -> assertArrayEquals(values, actual.get(name), 0.0, name));
    }
}
