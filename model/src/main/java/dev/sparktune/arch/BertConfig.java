package dev.sparktune.arch;

import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/** The BERT encoder family's {@code config.json} (BERT, MiniLM and other BertModel checkpoints). */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int maxPositionEmbeddings,
        int typeVocabSize,
        double layerNormEps,
        String hiddenAct,
        double hiddenDropoutProb,
        double attentionProbsDropoutProb) {

    /** Parses {@code config.json} text; {@code source} names it in errors. */
    public static BertConfig fromJson(String json, String source) {
        return from(ConfigJson.parse(json, source));
    }

    static BertConfig from(ConfigJson c) {
        String positions = c.string("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new ModelFormatException(c.source() + ": position_embedding_type '" + positions
                    + "' is not supported; supported: absolute");
        }
        int hidden = c.requireInt("hidden_size");
        int heads = c.requireInt("num_attention_heads");
        if (hidden % heads != 0) {
            throw new ModelFormatException(c.source() + ": hidden_size (" + hidden
                    + ") must be a multiple of num_attention_heads (" + heads + ")");
        }
        return new BertConfig(
                c.requireInt("vocab_size"),
                hidden,
                c.requireInt("intermediate_size"),
                c.requireInt("num_hidden_layers"),
                heads,
                c.integer("max_position_embeddings", 512),
                c.integer("type_vocab_size", 2),
                c.number("layer_norm_eps", 1e-12),
                c.string("hidden_act", "gelu"),
                c.number("hidden_dropout_prob", 0.1),
                c.number("attention_probs_dropout_prob", 0.1));
    }

    /** Every parameter of the encoder (without pooler or task head), with its shape, under {@code prefix}. */
    public Map<String, Shape> parameterShapes(String prefix) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        String e = prefix + "embeddings.";
        shapes.put(e + "word_embeddings.weight", new Shape(vocabSize, hiddenSize));
        shapes.put(e + "position_embeddings.weight", new Shape(maxPositionEmbeddings, hiddenSize));
        shapes.put(e + "token_type_embeddings.weight", new Shape(typeVocabSize, hiddenSize));
        shapes.put(e + "LayerNorm.weight", new Shape(hiddenSize));
        shapes.put(e + "LayerNorm.bias", new Shape(hiddenSize));
        for (int i = 0; i < numHiddenLayers; i++) {
            String p = prefix + "encoder.layer." + i + ".";
            for (String proj : new String[] {"attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense"}) {
                shapes.put(p + proj + ".weight", new Shape(hiddenSize, hiddenSize));
                shapes.put(p + proj + ".bias", new Shape(hiddenSize));
            }
            shapes.put(p + "attention.output.LayerNorm.weight", new Shape(hiddenSize));
            shapes.put(p + "attention.output.LayerNorm.bias", new Shape(hiddenSize));
            shapes.put(p + "intermediate.dense.weight", new Shape(intermediateSize, hiddenSize));
            shapes.put(p + "intermediate.dense.bias", new Shape(intermediateSize));
            shapes.put(p + "output.dense.weight", new Shape(hiddenSize, intermediateSize));
            shapes.put(p + "output.dense.bias", new Shape(hiddenSize));
            shapes.put(p + "output.LayerNorm.weight", new Shape(hiddenSize));
            shapes.put(p + "output.LayerNorm.bias", new Shape(hiddenSize));
        }
        return shapes;
    }
}
