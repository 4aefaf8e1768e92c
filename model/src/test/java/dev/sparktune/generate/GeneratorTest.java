package dev.sparktune.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.AttentionMask;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    private static final String CONFIG = """
            {"model_type": "qwen2", "vocab_size": 40, "hidden_size": 32, "intermediate_size": 48,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "rms_norm_eps": 1e-6, "tie_word_embeddings": true}
            """;
    private NDManager manager;
    private Llama model;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
        LlamaConfig config = LlamaConfig.fromJson(CONFIG, "generator test");
        Random random = new Random(3);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : config.parameterShapes().entrySet()) {
            double[] v = new double[(int) e.getValue().size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = e.getKey().contains("norm") ? 1 : 0.5 * random.nextGaussian();
            }
            tensors.put(e.getKey(), manager.create(v, e.getValue()).toType(DataType.FLOAT32, false));
        }
        model = new Llama(config, new Weights(tensors, "random"));
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** Greedy decoding the slow way: the whole sequence through the model at every step, no cache, no batch. */
    private long[] naiveGreedy(long[] prompt, int newTokens) {
        long[] sequence = prompt.clone();
        for (int step = 0; step < newTokens; step++) {
            try (NDManager m = manager.newSubManager()) {
                NDArray ids = m.create(new long[][] {sequence});
                NDArray positions = m.arange(0L, sequence.length, 1L, DataType.INT64).reshape(1, -1);
                NDArray logits = model.logits(ids, positions, AttentionMask.causal(null), null);
                long next = logits.get(":, -1, :").argMax().getLong();
                sequence = Arrays.copyOf(sequence, sequence.length + 1);
                sequence[sequence.length - 1] = next;
            }
        }
        return Arrays.copyOfRange(sequence, prompt.length, sequence.length);
    }

    @Test
    void cachedBatchedGreedyEqualsNaiveGreedyPerPrompt() {
        List<long[]> prompts = List.of(new long[] {5, 9, 2, 33, 7, 1}, new long[] {12, 3}, new long[] {8, 8, 21});
        Generator generator = new Generator(model, 0, null);

        List<Generator.Output> outputs = generator.generate(manager, prompts, GenerationConfig.greedy(10));

        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(naiveGreedy(prompts.get(i), 10), outputs.get(i).tokenIds(), "prompt " + i);
            assertEquals("length", outputs.get(i).finishReason());
        }
    }

    @Test
    void stopTokenEndsARowAndIsKept() {
        long[] prompt = {5, 9, 2, 33};
        long[] free = naiveGreedy(prompt, 8);
        long stop = free[3];
        int firstAt = 0;
        while (free[firstAt] != stop) {
            firstAt++;
        }
        GenerationConfig config = GenerationConfig.greedy(8).withStops(Set.of(stop), List.of());

        Generator.Output out = new Generator(model, 0, null).generate(manager, List.of(prompt), config).get(0);

        assertArrayEquals(Arrays.copyOf(free, firstAt + 1), out.tokenIds());
        assertEquals("stop", out.finishReason());
    }

    @Test
    void stopStringCutsTheText() {
        long[] prompt = {5, 9, 2, 33};
        // a decoder that spells token i as the letter 'a' + i % 26
        Generator generator = new Generator(model, 0, ids -> {
            StringBuilder sb = new StringBuilder();
            for (long id : ids) {
                sb.append((char) ('a' + id % 26));
            }
            return sb.toString();
        });
        String free = generator.generate(manager, List.of(prompt), GenerationConfig.greedy(8)).get(0).text();
        String stop = free.substring(2, 4);
        int cut = free.indexOf(stop);

        Generator.Output out = generator.generate(manager, List.of(prompt),
                GenerationConfig.greedy(8).withStops(Set.of(), List.of(stop))).get(0);

        assertEquals(free.substring(0, cut), out.text());
        assertEquals("stop", out.finishReason());
    }

    @Test
    void samplingIsReproducibleForASeedAndVariesAcrossSeeds() {
        List<long[]> prompts = List.of(new long[] {5, 9, 2});
        Generator generator = new Generator(model, 0, null);
        GenerationConfig sampled = GenerationConfig.greedy(12).sampling(1.5, 0, 1.0, 42);

        long[] first = generator.generate(manager, prompts, sampled).get(0).tokenIds();
        long[] again = generator.generate(manager, prompts, sampled).get(0).tokenIds();
        long[] other = generator.generate(manager, prompts, GenerationConfig.greedy(12).sampling(1.5, 0, 1.0, 43))
                .get(0).tokenIds();

        assertArrayEquals(first, again);
        assertNotEquals(Arrays.toString(first), Arrays.toString(other));
        assertFalse(Arrays.equals(first, naiveGreedy(prompts.get(0), 12)), "hot sampling should leave the greedy path");
    }
}
