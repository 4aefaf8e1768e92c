package dev.sparktune.arch;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model's modules by Hugging Face path, which fine-tuning methods select from.
 *
 * @param numLayers        transformer blocks
 * @param hiddenSize       width of the residual stream
 * @param numKeyValueHeads key/value heads (prefix tuning learns keys and values per head)
 * @param headDim          width of one head
 * @param linearModules    every linear layer, e.g. {@code model.layers.0.self_attn.q_proj}
 * @param headModules      task heads that train whenever the task does ({@code classifier}), or
 *                         the output head that only full fine-tuning trains ({@code lm_head})
 * @param embeddings       the token embedding module
 * @param encoder          true for BERT-style encoders, false for causal decoders
 */
public record ModelLayout(
        int numLayers,
        int hiddenSize,
        int numKeyValueHeads,
        int headDim,
        List<String> linearModules,
        List<String> headModules,
        String embeddings,
        boolean encoder) {

    private static final Pattern LAYER = Pattern.compile("\\.layers?\\.(\\d+)\\.");

    static ModelLayout of(LlamaConfig c) {
        List<String> linear = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (String m : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
                linear.add("model.layers." + i + "." + m);
            }
        }
        List<String> heads = new ArrayList<>();
        if (!c.tieWordEmbeddings()) {
            linear.add("lm_head");
            heads.add("lm_head");
        }
        return new ModelLayout(c.numHiddenLayers(), c.hiddenSize(), c.numKeyValueHeads(), c.headDim(), linear, heads,
                "model.embed_tokens", false);
    }

    static ModelLayout of(BertConfig c, String prefix, Weights w) {
        List<String> linear = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (String m : new String[] {"attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense"}) {
                linear.add(prefix + "encoder.layer." + i + "." + m);
            }
        }
        if (w.has(prefix + "pooler.dense.weight")) {
            linear.add(prefix + "pooler.dense");
        }
        List<String> heads = new ArrayList<>();
        if (w.has("classifier.weight")) {
            linear.add("classifier");
            heads.add("classifier");
        }
        int headDim = c.hiddenSize() / c.numAttentionHeads();
        return new ModelLayout(c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), headDim, linear, heads,
                prefix + "embeddings.word_embeddings", true);
    }

    /** The transformer block a parameter belongs to, if any. */
    public static OptionalInt layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }

    /** Whether {@code name} belongs to one of the modules in {@code modules}. */
    public static boolean inModule(String name, List<String> modules) {
        return modules.stream().anyMatch(m -> name.startsWith(m + "."));
    }
}
