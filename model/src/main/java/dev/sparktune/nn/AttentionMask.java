package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Which keys each query may attend to. Combines, as needed: causality (decoders), a sliding
 * window (Mistral), key padding (batches of unequal length, left or right padded), and
 * segment ids (packed sequences: a token sees only tokens of its own segment, giving a
 * block-diagonal mask).
 *
 * @param keepKeys      [B, past + T], 1 for a real token and 0 for padding; null when nothing is padded
 * @param segmentIds    [B, T], equal ids share a segment; null when sequences are not packed
 * @param causal        whether a query may only see keys at or before it
 * @param slidingWindow when positive, a query sees at most this many most recent keys
 */
public record AttentionMask(NDArray keepKeys, NDArray segmentIds, boolean causal, int slidingWindow) {

    public static AttentionMask causal(NDArray keepKeys) {
        return new AttentionMask(keepKeys, null, true, 0);
    }

    public static AttentionMask bidirectional(NDArray keepKeys) {
        return new AttentionMask(keepKeys, null, false, 0);
    }

    public AttentionMask withSegments(NDArray segments) {
        return new AttentionMask(keepKeys, segments, causal, slidingWindow);
    }

    /**
     * The additive mask, 0 where attention is allowed and the dtype's most negative finite
     * value where not (as Hugging Face does, so a fully masked row stays finite), shaped
     * [B or 1, 1, T, past + T].
     */
    public NDArray additive(NDManager manager, long queryLength, long pastLength, DataType dtype) {
        if (segmentIds != null && pastLength > 0) {
            throw new IllegalArgumentException("packed segments cannot be combined with a KV cache");
        }
        long keyLength = pastLength + queryLength;
        NDArray queries = manager.arange(pastLength, keyLength).reshape(queryLength, 1);
        NDArray keys = manager.arange(0, keyLength).reshape(1, keyLength);
        NDArray allowed = manager.ones(new Shape(queryLength, keyLength), DataType.BOOLEAN);
        if (causal) {
            allowed = allowed.logicalAnd(keys.lte(queries));
        }
        if (slidingWindow > 0) {
            allowed = allowed.logicalAnd(queries.sub(keys).lt(slidingWindow));
        }
        allowed = allowed.reshape(1, 1, queryLength, keyLength);
        if (keepKeys != null) {
            long batch = keepKeys.getShape().get(0);
            allowed = allowed.logicalAnd(keepKeys.reshape(batch, 1, 1, keyLength).eq(1));
        }
        if (segmentIds != null) {
            long batch = segmentIds.getShape().get(0);
            NDArray sameSegment = segmentIds.reshape(batch, 1, queryLength, 1).eq(segmentIds.reshape(batch, 1, 1, queryLength));
            allowed = allowed.logicalAnd(sameSegment);
        }
        return allowed.logicalNot().toType(dtype, false).mul(mostNegative(dtype));
    }

    static double mostNegative(DataType dtype) {
        return switch (dtype) {
            case FLOAT64 -> -Double.MAX_VALUE;
            case FLOAT16 -> -65504.0;
            case BFLOAT16 -> -3.3895313892515355e38;
            default -> -Float.MAX_VALUE;
        };
    }
}
