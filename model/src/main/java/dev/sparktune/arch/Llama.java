package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.core.Embedding;
import ai.djl.ndarray.types.SparseFormat;
import dev.sparktune.nn.Activations;
import dev.sparktune.nn.Attention;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.KvCache;
import dev.sparktune.nn.Rope;

import static dev.sparktune.nn.Linear.linear;
import static dev.sparktune.nn.Norms.rmsNorm;

/**
 * The Llama decoder (Touvron et al., 2023), also Mistral and Qwen2: pre-norm blocks of
 * grouped-query attention with rotary positions and a SwiGLU MLP, then a causal-LM head.
 * Tensor names are Hugging Face's, so a downloaded checkpoint runs as is.
 */
public final class Llama implements PretrainedModel {
    private final LlamaConfig config;
    private final Weights w;

    public Llama(LlamaConfig config, Weights weights) {
        weights.requireShapes(config.parameterShapes());
        this.config = config;
        this.w = weights;
    }

    public LlamaConfig config() {
        return config;
    }

    @Override
    public Weights weights() {
        return w;
    }

    /**
     * Logits for every position, [B, T, vocab].
     *
     * @param inputIds    [B, T] int64
     * @param positionIds [B, T]: 0.. per sequence, shifted for left padding, restarting per packed segment
     * @param mask        which keys each token may see (causal is implied)
     * @param cache       keys and values of earlier tokens, or null
     */
    public NDArray logits(NDArray inputIds, NDArray positionIds, AttentionMask mask, KvCache cache) {
        NDArray h = hiddenStates(inputIds, positionIds, mask, cache);
        NDArray head = config.tieWordEmbeddings() ? w.get("model.embed_tokens.weight") : w.get("lm_head.weight");
        return linear(h, head);
    }

    /** Final hidden states after the last norm, [B, T, hidden]. */
    public NDArray hiddenStates(NDArray inputIds, NDArray positionIds, AttentionMask mask, KvCache cache) {
        long past = cache == null ? 0 : cache.length();
        NDArray x = Embedding.embedding(inputIds, w.get("model.embed_tokens.weight"), SparseFormat.DENSE).singletonOrThrow();
        AttentionMask causal = new AttentionMask(mask.keepKeys(), mask.segmentIds(), true, config.slidingWindow());
        NDArray additive = causal.additive(x.getManager(), inputIds.getShape().get(1), past, x.getDataType());
        Rope.Tables rope = config.rope().tables(positionIds, x.getDataType());
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            x = block(x, layer, rope, additive, cache);
        }
        return rmsNorm(x, w.get("model.norm.weight"), config.rmsNormEps());
    }

    private NDArray block(NDArray x, int layer, Rope.Tables rope, NDArray mask, KvCache cache) {
        String p = "model.layers." + layer + ".";
        double eps = config.rmsNormEps();
        NDArray h = x.add(attention(rmsNorm(x, w.get(p + "input_layernorm.weight"), eps), layer, rope, mask, cache));
        return h.add(mlp(rmsNorm(h, w.get(p + "post_attention_layernorm.weight"), eps), p + "mlp."));
    }

    private NDArray attention(NDArray x, int layer, Rope.Tables rope, NDArray mask, KvCache cache) {
        String p = "model.layers." + layer + ".self_attn.";
        NDArray q = Attention.splitHeads(linear(x, w.get(p + "q_proj.weight"), w.find(p + "q_proj.bias")), config.numAttentionHeads());
        NDArray k = Attention.splitHeads(linear(x, w.get(p + "k_proj.weight"), w.find(p + "k_proj.bias")), config.numKeyValueHeads());
        NDArray v = Attention.splitHeads(linear(x, w.get(p + "v_proj.weight"), w.find(p + "v_proj.bias")), config.numKeyValueHeads());
        q = rope.apply(q);
        k = rope.apply(k);
        if (cache != null) {
            NDList kv = cache.append(layer, k, v);
            k = kv.get(0);
            v = kv.get(1);
        }
        NDArray out = Attention.mergeHeads(Attention.scaledDotProduct(q, k, v, mask));
        return linear(out, w.get(p + "o_proj.weight"), w.find(p + "o_proj.bias"));
    }

    /** SwiGLU (Shazeer, 2020): down(act(gate(x)) * up(x)). */
    private NDArray mlp(NDArray x, String p) {
        NDArray gate = Activations.byName(config.hiddenAct(), linear(x, w.get(p + "gate_proj.weight"), w.find(p + "gate_proj.bias")));
        NDArray up = linear(x, w.get(p + "up_proj.weight"), w.find(p + "up_proj.bias"));
        return linear(gate.mul(up), w.get(p + "down_proj.weight"), w.find(p + "down_proj.bias"));
    }
}
