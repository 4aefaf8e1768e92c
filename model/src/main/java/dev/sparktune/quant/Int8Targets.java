package dev.sparktune.quant;

import dev.sparktune.arch.ModelLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors an int8 export stores as int8 ({@link dev.sparktune.io.Int8Weights}): the linear layers' weight
 * matrices ({@link LinearTargets}) and the embedding tables ({@link ModelLayout#embeddingTables()}: the token
 * embeddings, and BERT's position and token-type tables). Both are [rows, cols] with one scale per row: for a linear
 * layer a row is an output channel, for a table it is one token's (or position's) vector, so a looked-up vector is
 * {@code q[t] * scale[t]}, off by at most {@code max|e[t]| / 254} per entry, and a token whose vector is small keeps
 * a fine step of its own. The tables are half of a small encoder's weights (all-MiniLM-L6-v2's 30522 x 384 word
 * embeddings): its int8 export is 65% of float32 with them left float, 26% with them in int8.
 *
 * <p>With {@code tie_word_embeddings} the token table is also the output head (Llama computes the logits with
 * {@code model.embed_tokens}). It is quantised all the same: the folder holds one tensor, loading dequantises it
 * once, and lookup and head use that float matrix; per row is then per output channel of the head, the scheme of
 * every linear layer. Keeping it float would keep the largest tensor of a small tied model float, and storing it
 * twice (int8 for lookup, float for the head) would be larger than float alone. An untied head ({@code lm_head},
 * {@code classifier}), norms and biases stay float, as {@link LinearTargets} says why.
 */
public final class Int8Targets {
    private Int8Targets() {
    }

    /** Module paths, linear layers first; the tensor is {@code <module>.weight}. */
    public static List<String> of(ModelLayout layout) {
        List<String> modules = new ArrayList<>(LinearTargets.of(layout));
        modules.addAll(layout.embeddingTables());
        return List.copyOf(modules);
    }
}
