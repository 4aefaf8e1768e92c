package dev.sparktune.quant;

import dev.sparktune.arch.ModelLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The weight matrices an export prunes, and the linear part of what it quantises ({@link Int8Targets} adds the
 * embedding tables): the 2-D {@code .weight} of every linear layer inside the network ({@code q_proj},
 * {@code query}, {@code mlp.down_proj}, {@code intermediate.dense}, a BERT pooler). Not pruned: embeddings (a row
 * lookup, not a matmul; zeroing small entries would zero parts of single tokens' vectors). Left in float, as
 * bitsandbytes' and compressed-tensors' defaults leave them: norms and biases (tiny, and their error is not averaged
 * over an input dimension), and the output heads ({@code lm_head}, {@code classifier}): their error goes straight
 * into the logits with nothing after them to absorb it, and a classifier head is a few hundred parameters.
 */
public final class LinearTargets {
    private LinearTargets() {
    }

    /** Module paths, e.g. {@code model.layers.0.self_attn.q_proj}; the tensor is {@code <module>.weight}. */
    public static List<String> of(ModelLayout layout) {
        List<String> modules = new ArrayList<>(layout.linearModules());
        modules.removeAll(layout.outputHeads());
        return List.copyOf(modules);
    }
}
