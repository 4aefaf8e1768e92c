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
 * @param outputHeads      the modules that map hidden states to outputs ({@code lm_head},
 *                         {@code classifier}); {@code lora_target: all} leaves them out
 * @param taskHeads        new task heads that train under every method ({@code classifier})
 * @param layerPrefixes    the path of each block, e.g. {@code model.layers.3}
 * @param afterBlocks      the modules a forward reads only after its last block: the final norm, BERT's pooler and the
 *                         output heads (a tied head is the token embeddings, read before the blocks too)
 * @param embeddings       the token embedding module
 * @param embeddingTables  every embedding table [rows, dim], the token embeddings first (BERT adds its position and
 *                         token-type tables); with {@code tie_word_embeddings} the first is also the output head
 * @param encoder          true for BERT-style encoders, false for causal decoders
 */
public record ModelLayout(
        int numLayers,
        int hiddenSize,
        int numKeyValueHeads,
        int headDim,
        List<String> linearModules,
        List<String> outputHeads,
        List<String> taskHeads,
        List<String> layerPrefixes,
        List<String> afterBlocks,
        String embeddings,
        List<String> embeddingTables,
        boolean encoder) {

    private static final Pattern LAYER = Pattern.compile("\\.layers?\\.(\\d+)\\.");
    private static final Pattern CLASSIFIER_HEAD = Pattern.compile("classifier(_\\w+)?");

    /** The layout a Llama-family config implies, without loading weights. */
    public static ModelLayout of(LlamaConfig c) {
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
        List<String> after = new ArrayList<>(List.of("model.norm"));
        after.addAll(heads);
        return new ModelLayout(c.numHiddenLayers(), c.hiddenSize(), c.numKeyValueHeads(), c.headDim(), linear, heads,
                List.of(), prefixes("model.layers.", c.numHiddenLayers()), after, "model.embed_tokens",
                List.of("model.embed_tokens"), false);
    }

    static ModelLayout of(BertConfig c, String prefix, Weights w) {
        List<String> linear = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (String m : new String[] {"attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense"}) {
                linear.add(prefix + "encoder.layer." + i + "." + m);
            }
        }
        List<String> after = new ArrayList<>();
        if (w.has(prefix + "pooler.dense.weight")) {
            linear.add(prefix + "pooler.dense");
            after.add(prefix + "pooler.dense");
        }
        List<String> heads = w.asMap().keySet().stream()
                .filter(n -> n.endsWith(".weight") && isClassifierHead(n.substring(0, n.length() - ".weight".length())))
                .map(n -> n.substring(0, n.length() - ".weight".length()))
                .sorted()
                .toList();
        linear.addAll(heads);
        after.addAll(heads);
        int headDim = c.hiddenSize() / c.numAttentionHeads();
        String e = prefix + "embeddings.";
        List<String> tables = List.of(e + "word_embeddings", e + "position_embeddings", e + "token_type_embeddings");
        return new ModelLayout(c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), headDim, linear, heads,
                heads, prefixes(prefix + "encoder.layer.", c.numHiddenLayers()), after, tables.get(0), tables, true);
    }

    /** {@code classifier}, or {@code classifier_<task>} for a multi-task run's extra heads. */
    public static boolean isClassifierHead(String module) {
        return CLASSIFIER_HEAD.matcher(module).matches();
    }

    private static List<String> prefixes(String stem, int layers) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            out.add(stem + i);
        }
        return out;
    }

    /** The transformer block a parameter belongs to, if any. */
    public static OptionalInt layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }
}
