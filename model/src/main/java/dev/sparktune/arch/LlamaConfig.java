package dev.sparktune.arch;

import ai.djl.ndarray.types.Shape;
import dev.sparktune.nn.Rope;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The decoder-only Llama family's {@code config.json}: Llama 2/3, Mistral and Qwen2/2.5 share
 * one architecture and differ in these fields (Qwen2 adds q/k/v biases, Mistral a sliding
 * window, Llama 3.1 a rope scaling rule).
 */
public record LlamaConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        Rope rope,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        String hiddenAct,
        int slidingWindow,
        double attentionDropout) {

    static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");

    /** Parses {@code config.json} text; {@code source} names it in errors. */
    public static LlamaConfig fromJson(String json, String source) {
        return from(ConfigJson.parse(json, source));
    }

    static LlamaConfig from(ConfigJson c) {
        String type = c.requireString("model_type");
        int hidden = c.requireInt("hidden_size");
        int heads = c.requireInt("num_attention_heads");
        int kvHeads = c.integer("num_key_value_heads", heads);
        int headDim = c.integer("head_dim", hidden / heads);
        if (heads % kvHeads != 0) {
            throw new ModelFormatException(c.source() + ": num_attention_heads (" + heads
                    + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        boolean qwen = type.equals("qwen2");
        // Qwen2 always has q/k/v biases and no o_proj bias; Llama's attention_bias puts a bias on all four.
        boolean attentionBias = qwen || c.flag("attention_bias", false);
        if (qwen && c.flag("use_sliding_window", false)) {
            throw new ModelFormatException(c.source() + ": use_sliding_window (Qwen2's per-layer window) is not supported");
        }
        int window = type.equals("mistral") ? c.integer("sliding_window", 0) : 0;
        return new LlamaConfig(type,
                c.requireInt("vocab_size"),
                hidden,
                c.requireInt("intermediate_size"),
                c.requireInt("num_hidden_layers"),
                heads,
                kvHeads,
                headDim,
                c.number("rms_norm_eps", 1e-6),
                rope(c, headDim),
                c.flag("tie_word_embeddings", false),
                attentionBias,
                c.flag("mlp_bias", false),
                c.string("hidden_act", "silu"),
                window,
                c.number("attention_dropout", 0.0));
    }

    private static Rope rope(ConfigJson c, int headDim) {
        double theta = c.number("rope_theta", 10000.0);
        ConfigJson scaling = c.object("rope_scaling");
        if (scaling == null) {
            return Rope.standard(headDim, theta);
        }
        String type = scaling.string("rope_type", scaling.string("type", "default"));
        return switch (type) {
            case "default" -> Rope.standard(headDim, theta);
            case "llama3" -> Rope.llama3(headDim, theta,
                    scaling.number("factor", 8.0),
                    scaling.number("low_freq_factor", 1.0),
                    scaling.number("high_freq_factor", 4.0),
                    scaling.requireInt("original_max_position_embeddings"));
            default -> throw new ModelFormatException(c.source() + ": rope_scaling type '" + type
                    + "' is not supported; supported: default, llama3");
        };
    }

    /** Whether the qkv projections carry a bias; o_proj has one only under Llama's attention_bias. */
    boolean outputProjectionBias() {
        return attentionBias && !modelType.equals("qwen2");
    }

    /** Every parameter this config implies, with its shape. */
    public Map<String, Shape> parameterShapes() {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new Shape(vocabSize, hiddenSize));
        long q = (long) numAttentionHeads * headDim;
        long kv = (long) numKeyValueHeads * headDim;
        for (int i = 0; i < numHiddenLayers; i++) {
            String p = "model.layers." + i + ".";
            shapes.put(p + "input_layernorm.weight", new Shape(hiddenSize));
            shapes.put(p + "self_attn.q_proj.weight", new Shape(q, hiddenSize));
            shapes.put(p + "self_attn.k_proj.weight", new Shape(kv, hiddenSize));
            shapes.put(p + "self_attn.v_proj.weight", new Shape(kv, hiddenSize));
            shapes.put(p + "self_attn.o_proj.weight", new Shape(hiddenSize, q));
            if (attentionBias) {
                shapes.put(p + "self_attn.q_proj.bias", new Shape(q));
                shapes.put(p + "self_attn.k_proj.bias", new Shape(kv));
                shapes.put(p + "self_attn.v_proj.bias", new Shape(kv));
            }
            if (outputProjectionBias()) {
                shapes.put(p + "self_attn.o_proj.bias", new Shape(hiddenSize));
            }
            shapes.put(p + "post_attention_layernorm.weight", new Shape(hiddenSize));
            shapes.put(p + "mlp.gate_proj.weight", new Shape(intermediateSize, hiddenSize));
            shapes.put(p + "mlp.up_proj.weight", new Shape(intermediateSize, hiddenSize));
            shapes.put(p + "mlp.down_proj.weight", new Shape(hiddenSize, intermediateSize));
            if (mlpBias) {
                shapes.put(p + "mlp.gate_proj.bias", new Shape(intermediateSize));
                shapes.put(p + "mlp.up_proj.bias", new Shape(intermediateSize));
                shapes.put(p + "mlp.down_proj.bias", new Shape(hiddenSize));
            }
        }
        shapes.put("model.norm.weight", new Shape(hiddenSize));
        if (!tieWordEmbeddings) {
            shapes.put("lm_head.weight", new Shape(vocabSize, hiddenSize));
        }
        return shapes;
    }
}
