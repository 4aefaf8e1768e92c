package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Tiny random models of each supported family, with Hugging Face config fields and tensor names. */
public final class TinyModels {
    private TinyModels() {
    }

    /** A small Llama-family config.json; {@code extra} is spliced into the object (e.g. rope_scaling). */
    public static String llamaJson(String modelType, int heads, int kvHeads, boolean tied, String extra) {
        return """
                {"model_type": "%s", "vocab_size": 61, "hidden_size": 32, "intermediate_size": 48,
                 "num_hidden_layers": 2, "num_attention_heads": %d, "num_key_value_heads": %d,
                 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": %s,
                 "max_position_embeddings": 128, "hidden_act": "silu"%s}
                """.formatted(modelType, heads, kvHeads, tied, extra.isEmpty() ? "" : ", " + extra);
    }

    public static LlamaConfig llamaConfig(String json) {
        return LlamaConfig.fromJson(json, "tiny config.json");
    }

    public static String bertJson() {
        return """
                {"model_type": "bert", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 40,
                 "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
                """;
    }

    public static BertConfig bertConfig(String json) {
        return BertConfig.fromJson(json, "tiny config.json");
    }

    /**
     * Random parameters for the given shapes: norm scales near 1, everything else normal with a
     * standard deviation large enough that every property the tests check is visible in the logits.
     */
    public static Weights randomWeights(Map<String, Shape> shapes, NDManager manager, DataType dtype, long seed) {
        Random random = new Random(seed);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            double[] values = new double[(int) e.getValue().size()];
            boolean norm = e.getKey().contains("norm") || e.getKey().contains("LayerNorm.weight");
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? 1 + 0.1 * random.nextGaussian() : 0.2 * random.nextGaussian();
            }
            tensors.put(e.getKey(), manager.create(values, e.getValue()).toType(dtype, false));
        }
        return new Weights(tensors, "random weights");
    }

    /**
     * Writes a random model of {@code configJson}'s family as a Hugging Face folder
     * (config.json + model.safetensors), so tests load it the way users load theirs.
     */
    public static Path writeRandom(Path dir, String configJson, long seed) {
        try (NDManager manager = NDManager.newBaseManager()) {
            ModelDirectory.write(dir, configJson, randomWeights(shapes(configJson), manager, DataType.FLOAT32, seed).asMap(),
                    Long.MAX_VALUE, null);
        }
        return dir;
    }

    public static Map<String, Shape> shapes(String configJson) {
        return configJson.contains("\"bert\"")
                ? bertConfig(configJson).parameterShapes("")
                : llamaConfig(configJson).parameterShapes();
    }

    /** Position ids 0..T-1 for every row. */
    public static NDArray positions(NDManager manager, int batch, int length) {
        return manager.arange(0L, length, 1L, DataType.INT64).reshape(1, length).repeat(0, batch);
    }
}
