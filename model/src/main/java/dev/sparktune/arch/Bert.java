package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.sparktune.nn.Activations;
import dev.sparktune.nn.Attention;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.BlockStack;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.sparktune.nn.Norms.layerNorm;

/**
 * The BERT encoder (Devlin et al., 2019), also MiniLM: embeddings of tokens, absolute
 * positions and token types, then post-norm blocks of bidirectional attention and a GELU
 * MLP. Checkpoints saved from a task model prefix every name with {@code bert.}; both
 * layouts load. A sequence-classification head sits on the pooled output.
 */
public final class Bert implements PretrainedModel {
    /** The classification head's name, as in Hugging Face's BertForSequenceClassification. */
    public static final String CLASSIFIER = "classifier";
    private final BertConfig config;
    private final Weights w;
    private final String prefix;
    private final ForwardHooks hooks;
    private final BlockStack blocks;

    public Bert(BertConfig config, Weights weights) {
        this(config, weights, ForwardHooks.NONE);
    }

    public Bert(BertConfig config, Weights weights, ForwardHooks hooks) {
        this(config, weights, hooks, BlockStack.PLAIN);
    }

    private Bert(BertConfig config, Weights weights, ForwardHooks hooks, BlockStack blocks) {
        this.prefix = weights.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        weights.requireShapes(config.parameterShapes(prefix));
        this.config = config;
        this.w = weights;
        this.hooks = hooks;
        this.blocks = blocks;
    }

    public BertConfig config() {
        return config;
    }

    @Override
    public Weights weights() {
        return w;
    }

    @Override
    public ModelLayout layout() {
        return ModelLayout.of(config, prefix, w);
    }

    /**
     * The same encoder with a new sequence-classification head {@code classifier} [labels, hidden],
     * initialised as Hugging Face initialises heads: N(0, 0.02^2) weights, zero bias.
     */
    public Bert withClassifier(int numLabels, NDManager manager, long seed) {
        return withClassifier(CLASSIFIER, numLabels, manager, seed);
    }

    /**
     * The same encoder with one more classification head named {@code head}: {@code classifier}, or
     * {@code classifier_<task>} for the extra heads of a multi-task run on a shared encoder.
     */
    public Bert withClassifier(String head, int numLabels, NDManager manager, long seed) {
        if (!ModelLayout.isClassifierHead(head)) {
            throw new IllegalArgumentException("a classification head is named classifier or classifier_<task>"
                    + " (letters, digits, underscores), got '" + head + "'");
        }
        if (numLabels < 2) {
            throw new IllegalArgumentException("a classifier needs at least 2 labels, got " + numLabels);
        }
        Random random = new Random(seed);
        double[] values = new double[numLabels * config.hiddenSize()];
        for (int i = 0; i < values.length; i++) {
            values[i] = 0.02 * random.nextGaussian();
        }
        DataType dtype = w.get(prefix + "embeddings.word_embeddings.weight").getDataType();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put(head + ".weight", manager.create(values, new Shape(numLabels, config.hiddenSize())).toType(dtype, false));
        tensors.put(head + ".bias", manager.zeros(new Shape(numLabels), dtype));
        return new Bert(config, w.plus(tensors, w.source() + " + " + head), hooks, blocks);
    }

    @Override
    public Bert with(Weights weights, ForwardHooks newHooks) {
        return new Bert(config, weights, newHooks, blocks);
    }

    @Override
    public Bert withBlocks(BlockStack newBlocks) {
        return new Bert(config, w, hooks, newBlocks);
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
        long batch = inputIds.getShape().get(0);
        blocks.startForward();
        NDArray words = embed(inputIds, e + "word_embeddings.weight");
        VirtualTokens virtual = VirtualTokens.prepare(hooks, w, batch, true, mask, positionIds, words);
        NDArray types = tokenTypeIds != null ? tokenTypeIds : inputIds.zerosLike();
        if (virtual.hasPrompt()) {
            types = inputIds.getManager().zeros(new Shape(batch, virtual.count()), types.getDataType())
                    .concat(types, 1);
        }
        NDArray x = virtual.input()
                .add(embed(virtual.positionIds(), e + "position_embeddings.weight"))
                .add(embed(types, e + "token_type_embeddings.weight"));
        x = hooks.dropout(layerNorm(x, w.get(e + "LayerNorm.weight"), w.get(e + "LayerNorm.bias"), config.layerNormEps()),
                config.hiddenDropoutProb());
        AttentionMask keys = new AttentionMask(virtual.keepKeys(), mask.segmentIds(), false, 0);
        long past = virtual.prefix() ? virtual.count() : 0;
        NDArray additive = keys.additive(x.getManager(), x.getShape().get(1), past, x.getDataType());
        x = blocks.run(x, config.numHiddenLayers(), (layer, in) -> block(in, layer, additive, virtual.prefix()));
        return virtual.dropPrompt(x);
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
        return classify(hidden, keepTokens, CLASSIFIER);
    }

    /** As {@link #classify(NDArray, NDArray)}, through the head named {@code head}. */
    public NDArray classify(NDArray hidden, NDArray keepTokens, String head) {
        NDArray pooled;
        if (w.has(prefix + "pooler.dense.weight")) {
            NDArray first = hidden.get(":, 0, :");
            pooled = hooks.linear(w, prefix + "pooler.dense", first).tanh();
        } else {
            pooled = meanPool(hidden, keepTokens);
        }
        // BertForSequenceClassification drops out the pooled output before the classifier
        return hooks.linear(w, head, hooks.dropout(pooled, config.hiddenDropoutProb()));
    }

    private NDArray block(NDArray x, int layer, NDArray mask, boolean prefixed) {
        String p = prefix + "encoder.layer." + layer + ".";
        double eps = config.layerNormEps();
        NDArray attended = selfAttention(x, layer, p + "attention.self.", mask, prefixed);
        NDArray projected = hooks.sublayerOutput(w, layer, "attention",
                hooks.dropout(hooks.linear(w, p + "attention.output.dense", attended), config.hiddenDropoutProb()));
        x = layerNorm(x.add(projected), w.get(p + "attention.output.LayerNorm.weight"),
                w.get(p + "attention.output.LayerNorm.bias"), eps);
        NDArray inner = Activations.byName(config.hiddenAct(), hooks.linear(w, p + "intermediate.dense", x));
        NDArray out = hooks.sublayerOutput(w, layer, "mlp",
                hooks.dropout(hooks.linear(w, p + "output.dense", inner), config.hiddenDropoutProb()));
        return layerNorm(x.add(out), w.get(p + "output.LayerNorm.weight"), w.get(p + "output.LayerNorm.bias"), eps);
    }

    private NDArray selfAttention(NDArray x, int layer, String p, NDArray mask, boolean prefixed) {
        long heads = config.numAttentionHeads();
        NDArray q = Attention.splitHeads(hooks.linear(w, p + "query", x), heads);
        NDArray k = Attention.splitHeads(hooks.linear(w, p + "key", x), heads);
        NDArray v = Attention.splitHeads(hooks.linear(w, p + "value", x), heads);
        if (prefixed) {
            NDList prefixKv = hooks.prefixKeyValues(w, layer, x);
            k = prefixKv.get(0).concat(k, 2);
            v = prefixKv.get(1).concat(v, 2);
        }
        return Attention.mergeHeads(Attention.scaledDotProduct(q, k, v, mask,
                probabilities -> hooks.dropout(probabilities, config.attentionProbsDropoutProb())));
    }

    private NDArray embed(NDArray ids, String table) {
        return Embedding.embedding(ids, w.get(table), SparseFormat.DENSE).singletonOrThrow();
    }
}
