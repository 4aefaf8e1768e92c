package dev.sparktune.embed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.tokenize.EncodedBatch;
import dev.sparktune.tokenize.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Sentence embeddings from a BERT-family encoder, as sentence-transformers' {@code encode} computes them: tokenize
 * with special tokens, cut to the model's maximum sequence length, run the encoder, pool the last layer's token
 * embeddings (mean over real tokens, or the first token), and optionally L2-normalise.
 */
public final class SentenceEmbedder {
    /** sentence-transformers' own settings file in a model folder; its {@code max_seq_length} cuts inputs. */
    public static final String SENTENCE_BERT_CONFIG = "sentence_bert_config.json";

    /** How token embeddings become one vector (sentence-transformers' {@code pooling_mode_*}). */
    public enum Pooling { MEAN, CLS }

    private final Bert model;
    private final Tokenizer tokenizer;
    private final Pooling pooling;
    private final boolean normalize;
    private final int maxLength;

    /**
     * @param maxLength inputs are cut to this many tokens, special tokens included (see {@link #maxLength})
     */
    public SentenceEmbedder(Bert model, Tokenizer tokenizer, Pooling pooling, boolean normalize, int maxLength) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        this.normalize = normalize;
        this.maxLength = maxLength;
    }

    /**
     * The length sentence-transformers would cut to: {@code max_seq_length} of {@code sentence_bert_config.json}
     * when the folder has one (256 for all-MiniLM-L6-v2), else the tokenizer's {@code model_max_length}; never
     * more than the encoder's position table.
     */
    public static int maxLength(Path modelDir, Tokenizer tokenizer, Bert model) {
        int limit = model.config().maxPositionEmbeddings();
        Path file = modelDir.resolve(SENTENCE_BERT_CONFIG);
        if (Files.isRegularFile(file)) {
            try {
                JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8))
                        .getAsJsonObject();
                if (json.has("max_seq_length") && !json.get("max_seq_length").isJsonNull()) {
                    return Math.min(limit, json.get("max_seq_length").getAsInt());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": cannot read", e);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": max_seq_length should be a number (" + e.getMessage() + ")",
                        e);
            }
        }
        return Math.min(limit, tokenizer.modelMaxLength().orElse(limit));
    }

    /** One embedding per text, [texts][hidden]; the batch runs in its own sub-manager of {@code parent}. */
    public float[][] embed(List<String> texts, NDManager parent) {
        EncodedBatch batch = tokenizer.encodeBatch(texts, maxLength);
        long[][] positions = new long[batch.size()][batch.length()];
        for (int b = 0; b < batch.size(); b++) {
            long next = 0;
            for (int t = 0; t < batch.length(); t++) {
                // counting real tokens only makes positions independent of the padding side
                positions[b][t] = batch.attentionMask()[b][t] == 1 ? next++ : 0;
            }
        }
        try (NDManager step = parent.newSubManager()) {
            NDArray keep = step.create(batch.attentionMask());
            NDArray hidden = model.hiddenStates(step.create(batch.inputIds()), null, step.create(positions),
                    AttentionMask.bidirectional(keep));
            NDArray pooled = pooling == Pooling.MEAN ? Bert.meanPool(hidden, keep) : firstRealToken(hidden, keep);
            if (normalize) {
                // torch.nn.functional.normalize(p=2, dim=1), as sentence-transformers' Normalize module
                pooled = pooled.div(pooled.norm(new int[] {1}, true).maximum(1e-12));
            }
            float[] flat = pooled.toType(DataType.FLOAT32, false).toFloatArray();
            int width = (int) pooled.getShape().get(1);
            float[][] out = new float[texts.size()][width];
            for (int b = 0; b < out.length; b++) {
                System.arraycopy(flat, b * width, out[b], 0, width);
            }
            return out;
        }
    }

    /** The [CLS] token's embedding: the first real token of each row, whichever side the padding is on. */
    private static NDArray firstRealToken(NDArray hidden, NDArray keep) {
        NDArray first = keep.toType(DataType.FLOAT32, false).argMax(1);   // torch.argmax returns the first maximum
        NDArray oneHot = first.oneHot((int) hidden.getShape().get(1)).toType(hidden.getDataType(), false);
        return hidden.mul(oneHot.expandDims(-1)).sum(new int[] {1});
    }
}
