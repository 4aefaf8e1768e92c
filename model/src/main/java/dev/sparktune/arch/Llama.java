package dev.sparktune.arch;

import static dev.sparktune.nn.Norms.rmsNorm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.sparktune.nn.Activations;
import dev.sparktune.nn.Attention;
import dev.sparktune.nn.AttentionMask;
import ai.djl.pytorch.jni.JniUtils;
import dev.sparktune.nn.BlockCheckpoints;
import dev.sparktune.nn.BlockStack;
import dev.sparktune.nn.KvCache;
import dev.sparktune.nn.Rope;

/**
 * The Llama decoder (Touvron et al., 2023), also Mistral and Qwen2: pre-norm blocks of
 * grouped-query attention with rotary positions and a SwiGLU MLP, then a causal-LM head.
 * Tensor names are Hugging Face's, so a downloaded checkpoint runs as is; a fine-tuning
 * method changes the forward through {@link ForwardHooks}.
 */
public final class Llama implements PretrainedModel {
    private final LlamaConfig config;
    private final Weights w;
    private final ForwardHooks hooks;
    private final BlockStack blocks;

    public Llama(LlamaConfig config, Weights weights) {
        this(config, weights, ForwardHooks.NONE);
    }

    public Llama(LlamaConfig config, Weights weights, ForwardHooks hooks) {
        this(config, weights, hooks, BlockStack.PLAIN);
    }

    private Llama(LlamaConfig config, Weights weights, ForwardHooks hooks, BlockStack blocks) {
        weights.requireShapes(config.parameterShapes());
        this.config = config;
        this.w = weights;
        this.hooks = hooks;
        this.blocks = blocks;
    }

    public LlamaConfig config() {
        return config;
    }

    @Override
    public Weights weights() {
        return w;
    }

    @Override
    public ModelLayout layout() {
        return ModelLayout.of(config);
    }

    @Override
    public Llama with(Weights weights, ForwardHooks newHooks) {
        return new Llama(config, weights, newHooks, blocks);
    }

    @Override
    public Llama withBlocks(BlockStack newBlocks) {
        return new Llama(config, w, hooks, newBlocks);
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
        return config.tieWordEmbeddings() ? linearNoHook(h, "model.embed_tokens") : hooks.linear(w, "lm_head", h);
    }

    /** Final hidden states after the last norm, [B, T, hidden]. */
    public NDArray hiddenStates(NDArray inputIds, NDArray positionIds, AttentionMask mask, KvCache cache) {
        long batch = inputIds.getShape().get(0);
        if (cache != null && blocks instanceof BlockCheckpoints && JniUtils.isGradMode()) {
            throw new IllegalArgumentException("a KV cache is filled by running each block once; checkpointed blocks"
                    + " run twice (train.gradient_checkpointing is for training, without a cache)");
        }
        blocks.startForward();
        long past = cache == null ? 0 : cache.length();
        NDArray x = Embedding.embedding(inputIds, w.get("model.embed_tokens.weight"), SparseFormat.DENSE).singletonOrThrow();
        VirtualTokens virtual = VirtualTokens.prepare(hooks, w, batch, past == 0, mask, positionIds, x);
        boolean prefixed = virtual.prefix() && past == 0;
        AttentionMask causal = new AttentionMask(virtual.keepKeys(), mask.segmentIds(), true, config.slidingWindow());
        NDArray additive = causal.additive(x.getManager(), virtual.input().getShape().get(1),
                past + (prefixed ? virtual.count() : 0), x.getDataType());
        Rope.Tables rope = config.rope().tables(virtual.positionIds(), x.getDataType());
        NDArray h = blocks.run(virtual.input(), config.numHiddenLayers(),
                (layer, in) -> block(in, layer, rope, additive, cache, prefixed));
        return virtual.dropPrompt(rmsNorm(h, w.get("model.norm.weight"), config.rmsNormEps()));
    }

    private NDArray block(NDArray x, int layer, Rope.Tables rope, NDArray mask, KvCache cache, boolean prefixed) {
        String p = "model.layers." + layer + ".";
        double eps = config.rmsNormEps();
        NDArray attended = attention(rmsNorm(x, w.get(p + "input_layernorm.weight"), eps), layer, rope, mask, cache, prefixed);
        NDArray h = x.add(hooks.sublayerOutput(w, layer, "attention", attended));
        NDArray mlp = mlp(rmsNorm(h, w.get(p + "post_attention_layernorm.weight"), eps), p + "mlp.");
        return h.add(hooks.sublayerOutput(w, layer, "mlp", mlp));
    }

    private NDArray attention(NDArray x, int layer, Rope.Tables rope, NDArray mask, KvCache cache, boolean prefixed) {
        String p = "model.layers." + layer + ".self_attn.";
        NDArray q = Attention.splitHeads(hooks.linear(w, p + "q_proj", x), config.numAttentionHeads());
        NDArray k = Attention.splitHeads(hooks.linear(w, p + "k_proj", x), config.numKeyValueHeads());
        NDArray v = Attention.splitHeads(hooks.linear(w, p + "v_proj", x), config.numKeyValueHeads());
        q = rope.apply(q);
        k = rope.apply(k);
        if (prefixed) {
            // prefix keys and values act as an already-cached past (as PEFT passes them): no rotation
            NDList prefix = hooks.prefixKeyValues(w, layer, x);
            k = prefix.get(0).concat(k, 2);
            v = prefix.get(1).concat(v, 2);
        }
        if (cache != null) {
            NDList kv = cache.append(layer, k, v);
            k = kv.get(0);
            v = kv.get(1);
        }
        NDArray out = Attention.mergeHeads(Attention.scaledDotProduct(q, k, v, mask,
                probabilities -> hooks.dropout(probabilities, config.attentionDropout())));
        return hooks.linear(w, p + "o_proj", out);
    }

    /** SwiGLU (Shazeer, 2020): down(act(gate(x)) * up(x)). */
    private NDArray mlp(NDArray x, String p) {
        NDArray gate = Activations.byName(config.hiddenAct(), hooks.linear(w, p + "gate_proj", x));
        NDArray up = hooks.linear(w, p + "up_proj", x);
        return hooks.linear(w, p + "down_proj", gate.mul(up));
    }

    /** The tied output head reuses the embedding matrix, which no method adapts as a linear layer. */
    private NDArray linearNoHook(NDArray x, String module) {
        return ForwardHooks.NONE.linear(w, module, x);
    }
}
