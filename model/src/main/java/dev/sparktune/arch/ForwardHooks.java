package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.sparktune.nn.Linear;
import dev.sparktune.nn.SeededDropout;

/**
 * The points where a fine-tuning method changes an architecture's forward pass. Both
 * architectures call every linear layer, sublayer output, attention and embedding through
 * these, by Hugging Face module path; the defaults are the plain pretrained network.
 */
public interface ForwardHooks {
    ForwardHooks NONE = new ForwardHooks() {
    };

    /** {@code module} ({@code model.layers.0.self_attn.q_proj}) applied to x: LoRA and DoRA change this. */
    default NDArray linear(Weights w, String module, NDArray x) {
        PackedTensor packed = w.packed(module + ".weight");
        if (packed == null) {
            return Linear.linear(x, w.get(module + ".weight"), w.find(module + ".bias"));
        }
        // closing the widened copy drops only this handle: autograd holds its own reference to what it saved for
        // backward, so the copy lives as long as the graph needs it, and not at all in a no-grad pass
        try (NDArray weight = packed.unpack(x.getManager(), x.getDataType())) {
            return Linear.linear(x, weight, w.find(module + ".bias"));
        }
    }

    /** The output of sublayer {@code "attention"} or {@code "mlp"} of a layer, before the residual add: bottleneck adapters change this. */
    default NDArray sublayerOutput(Weights w, int layer, String sublayer, NDArray out) {
        return out;
    }

    /**
     * Learned keys and values that every token of a layer attends to first ([B, kvHeads, P, d]
     * each), or null: prefix tuning. {@code x} is the layer's input, [B, T, hidden].
     */
    default NDList prefixKeyValues(Weights w, int layer, NDArray x) {
        return null;
    }

    /** Learned embeddings placed before the input's token embeddings {@code tokens} ([B, P, hidden]), or null: prompt tuning. */
    default NDArray promptEmbeddings(Weights w, NDArray tokens) {
        return null;
    }

    /** How many positions {@link #prefixKeyValues} or {@link #promptEmbeddings} add in front of the input. */
    default int virtualTokens() {
        return 0;
    }

    /** Whether this is a training pass: the architectures' own dropout is on. */
    default boolean training() {
        return false;
    }

    /** {@code inner} in a training pass. */
    static ForwardHooks training(ForwardHooks inner) {
        return new ForwardHooks() {
            @Override
            public NDArray linear(Weights w, String module, NDArray x) {
                return inner.linear(w, module, x);
            }

            @Override
            public NDArray sublayerOutput(Weights w, int layer, String sublayer, NDArray out) {
                return inner.sublayerOutput(w, layer, sublayer, out);
            }

            @Override
            public NDList prefixKeyValues(Weights w, int layer, NDArray x) {
                return inner.prefixKeyValues(w, layer, x);
            }

            @Override
            public NDArray promptEmbeddings(Weights w, NDArray tokens) {
                return inner.promptEmbeddings(w, tokens);
            }

            @Override
            public int virtualTokens() {
                return inner.virtualTokens();
            }

            @Override
            public boolean training() {
                return true;
            }
        };
    }

    /** Dropout (Srivastava et al., 2014) at {@code rate} in a training pass, the identity otherwise. */
    default NDArray dropout(NDArray x, double rate) {
        return training() && rate > 0 ? SeededDropout.apply(x, rate) : x;
    }
}
