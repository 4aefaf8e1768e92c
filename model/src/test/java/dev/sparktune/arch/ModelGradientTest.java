package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.GradientCheck;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Whole-model backward against finite differences in float64, through every tensor of each architecture. */
class ModelGradientTest {

    private static GradientCheck randomParameters(Map<String, Shape> shapes, long seed) {
        GradientCheck check = new GradientCheck(seed);
        Random random = new Random(seed);
        shapes.forEach((name, shape) -> {
            double[] v = new double[(int) shape.size()];
            boolean norm = name.contains("norm") || name.endsWith("LayerNorm.weight");
            for (int i = 0; i < v.length; i++) {
                v[i] = norm ? 1 + 0.1 * random.nextGaussian() : 0.2 * random.nextGaussian();
            }
            check.param(name, shape, v);
        });
        return check;
    }

    @Test
    void qwen2WithBiasesGroupedQueryAttentionAndLeftPadding() {
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("qwen2", 4, 2, false, ""));
        randomParameters(config.parameterShapes(), 21).check(params -> {
            Llama model = new Llama(config, new Weights(params, "gradient check"));
            NDManager m = params.get("model.norm.weight").getManager();
            NDArray ids = m.create(new long[][] {{3, 14, 15, 9, 26}, {0, 0, 5, 35, 8}});
            NDArray keep = m.create(new long[][] {{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}});
            NDArray positions = m.create(new long[][] {{0, 1, 2, 3, 4}, {0, 0, 0, 1, 2}});
            NDArray logits = model.logits(ids, positions, AttentionMask.causal(keep), null);
            return logits.mul(keep.reshape(2, 5, 1).toType(DataType.FLOAT64, false));
        });
    }

    @Test
    void llamaWithTiedEmbeddingsAndLlama3Rope() {
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 1, true,
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
                        + " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}"));
        randomParameters(config.parameterShapes(), 22).check(params -> {
            Llama model = new Llama(config, new Weights(params, "gradient check"));
            NDManager m = params.get("model.norm.weight").getManager();
            NDArray ids = m.create(new long[][] {{3, 14, 15, 9, 26, 5}});
            return model.logits(ids, TinyModels.positions(m, 1, 6), AttentionMask.causal(null), null);
        });
    }

    @Test
    void bertEncoderWithClassificationHead() {
        BertConfig config = TinyModels.bertConfig(TinyModels.bertJson());
        Map<String, Shape> shapes = new java.util.LinkedHashMap<>(config.parameterShapes(""));
        shapes.put("classifier.weight", new Shape(3, 32));
        shapes.put("classifier.bias", new Shape(3));
        randomParameters(shapes, 23).check(params -> {
            Bert model = new Bert(config, new Weights(params, "gradient check"));
            NDManager m = params.get("classifier.bias").getManager();
            NDArray ids = m.create(new long[][] {{2, 14, 15, 9, 3}, {2, 7, 3, 0, 0}});
            NDArray types = m.create(new long[][] {{0, 0, 1, 1, 1}, {0, 0, 0, 0, 0}});
            NDArray keep = m.create(new long[][] {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}});
            NDArray hidden = model.hiddenStates(ids, types, TinyModels.positions(m, 2, 5), AttentionMask.bidirectional(keep));
            return model.classify(hidden, keep);
        });
    }
}
