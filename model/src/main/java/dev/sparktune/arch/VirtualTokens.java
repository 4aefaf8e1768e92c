package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.nn.AttentionMask;

/**
 * What prefix or prompt tuning puts in front of the input, resolved for one forward pass:
 * the (possibly extended) input embeddings, key mask and position ids. With P virtual tokens
 * the real tokens sit at positions P.., as Hugging Face places them after a past of length P.
 *
 * @param input       [B, P + T, hidden] with a prompt, else the token embeddings
 * @param keepKeys    the key mask with P leading ones, or null
 * @param positionIds positions of the input's rows
 * @param count       P, the number of virtual tokens (0 without prefix or prompt tuning)
 * @param prefix      whether the P tokens are not part of {@code input}: prefix keys/values, or a prompt
 *                    already held by the KV cache
 * @param hasPrompt   whether {@code input} starts with P prompt embeddings
 */
record VirtualTokens(NDArray input, NDArray keepKeys, NDArray positionIds, int count, boolean prefix, boolean hasPrompt) {

    static VirtualTokens prepare(ForwardHooks hooks, Weights w, long batch, boolean firstPass, AttentionMask mask,
                                 NDArray positionIds, NDArray embeddings) {
        int p = hooks.virtualTokens();
        if (p == 0) {
            return new VirtualTokens(embeddings, mask.keepKeys(), positionIds, 0, false, false);
        }
        if (mask.segmentIds() != null) {
            throw new IllegalArgumentException("packed sequences cannot be combined with prefix or prompt tuning");
        }
        NDManager m = embeddings.getManager();
        NDArray keep = mask.keepKeys() == null ? null
                : m.ones(new Shape(batch, p), mask.keepKeys().getDataType()).concat(mask.keepKeys(), 1);
        NDArray positions = positionIds.add(p);
        NDArray prompt = firstPass ? hooks.promptEmbeddings(w, embeddings) : null;
        if (prompt == null) {
            return new VirtualTokens(embeddings, keep, positions, p, true, false);
        }
        NDArray promptPositions = m.arange(0L, p, 1L, DataType.INT64).reshape(1, p).repeat(0, batch)
                .toType(positionIds.getDataType(), false);
        return new VirtualTokens(prompt.concat(embeddings, 1), keep, promptPositions.concat(positions, 1), p, false, true);
    }

    /** Hidden states of the real tokens only: the prompt's positions are cut off again. */
    NDArray dropPrompt(NDArray hidden) {
        return hasPrompt ? hidden.get(":, " + count + ":, :") : hidden;
    }
}
