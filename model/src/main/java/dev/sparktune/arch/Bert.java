package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.sparktune.nn.Activations;
import dev.sparktune.nn.Attention;
import dev.sparktune.nn.AttentionMask;

import static dev.sparktune.nn.Linear.linear;
import static dev.sparktune.nn.Norms.layerNorm;

/**
 * The BERT encoder (Devlin et al., 2019), also MiniLM: embeddings of tokens, absolute
 * positions and token types, then post-norm blocks of bidirectional attention and a GELU
 * MLP. Checkpoints saved from a task model prefix every name with {@code bert.}; both
 * layouts load. A sequence-classification head sits on the pooled output.
 */
public final class Bert implements PretrainedModel {
    private final BertConfig config;
    private final Weights w;
    private final String prefix;

    public Bert(BertConfig config, Weights weights) {
        this.prefix = weights.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        weights.requireShapes(config.parameterShapes(prefix));
        this.config = config;
        this.w = weights;
    }

    public BertConfig config() {
        return config;
    }

    @Override
    public Weights weights() {
        return w;
    }

    /**
     * Token embeddings of the last layer, [B, T, hidden].
     *
     * @param inputIds      [B, T] int64
     * @param tokenTypeIds  [B, T] int64, or null for all zeros
     * @param positionIds   [B, T]: 0.. per sequence, restarting per packed segment
     * @param mask          which keys each token may see (padding, packed segments)
     */
    public NDArray hiddenStates(NDArray inputIds, NDArray tokenTypeIds, NDArray positionIds, AttentionMask mask) {
        String e = prefix + "embeddings.";
        NDArray types = tokenTypeIds != null ? tokenTypeIds : inputIds.zerosLike();
        NDArray x = embed(inputIds, e + "word_embeddings.weight")
                .add(embed(positionIds, e + "position_embeddings.weight"))
                .add(embed(types, e + "token_type_embeddings.weight"));
        x = layerNorm(x, w.get(e + "LayerNorm.weight"), w.get(e + "LayerNorm.bias"), config.layerNormEps());
        NDArray additive = mask.additive(x.getManager(), inputIds.getShape().get(1), 0, x.getDataType());
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            x = block(x, prefix + "encoder.layer." + layer + ".", additive);
        }
        return x;
    }

    /** Mean of the token embeddings over real (unpadded) tokens, [B, hidden], as sentence-transformers pools. */
    public static NDArray meanPool(NDArray hidden, NDArray keepTokens) {
        NDArray weights = keepTokens.toType(hidden.getDataType(), false).expandDims(-1);
        return hidden.mul(weights).sum(new int[] {1}).div(weights.sum(new int[] {1}).maximum(1e-9));
    }

    /**
     * Class logits [B, labels] from {@code classifier.weight/bias}: on BERT's tanh pooler over
     * the first token when the checkpoint has one (Hugging Face's BertForSequenceClassification),
     * else on the mean-pooled tokens (sentence-transformers models ship no pooler).
     */
    public NDArray classify(NDArray hidden, NDArray keepTokens) {
        NDArray pooled;
        if (w.has(prefix + "pooler.dense.weight")) {
            NDArray first = hidden.get(":, 0, :");
            pooled = linear(first, w.get(prefix + "pooler.dense.weight"), w.get(prefix + "pooler.dense.bias")).tanh();
        } else {
            pooled = meanPool(hidden, keepTokens);
        }
        return linear(pooled, w.get("classifier.weight"), w.get("classifier.bias"));
    }

    private NDArray block(NDArray x, String p, NDArray mask) {
        double eps = config.layerNormEps();
        NDArray attended = selfAttention(x, p + "attention.self.", mask);
        NDArray projected = linear(attended, w.get(p + "attention.output.dense.weight"), w.get(p + "attention.output.dense.bias"));
        x = layerNorm(x.add(projected), w.get(p + "attention.output.LayerNorm.weight"),
                w.get(p + "attention.output.LayerNorm.bias"), eps);
        NDArray inner = Activations.byName(config.hiddenAct(),
                linear(x, w.get(p + "intermediate.dense.weight"), w.get(p + "intermediate.dense.bias")));
        NDArray out = linear(inner, w.get(p + "output.dense.weight"), w.get(p + "output.dense.bias"));
        return layerNorm(x.add(out), w.get(p + "output.LayerNorm.weight"), w.get(p + "output.LayerNorm.bias"), eps);
    }

    private NDArray selfAttention(NDArray x, String p, NDArray mask) {
        long heads = config.numAttentionHeads();
        NDArray q = Attention.splitHeads(linear(x, w.get(p + "query.weight"), w.get(p + "query.bias")), heads);
        NDArray k = Attention.splitHeads(linear(x, w.get(p + "key.weight"), w.get(p + "key.bias")), heads);
        NDArray v = Attention.splitHeads(linear(x, w.get(p + "value.weight"), w.get(p + "value.bias")), heads);
        return Attention.mergeHeads(Attention.scaledDotProduct(q, k, v, mask));
    }

    private NDArray embed(NDArray ids, String table) {
        return Embedding.embedding(ids, w.get(table), SparseFormat.DENSE).singletonOrThrow();
    }
}
