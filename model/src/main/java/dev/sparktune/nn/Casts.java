package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * A dtype conversion that autograd follows; use it, not {@code toType}, wherever a gradient flows through a cast
 * (a float16 model's activations widened for a norm or a loss, and narrowed back).
 *
 * <p>Why: DJL 0.36's {@code toType} returns a tensor cut off from the graph (its native {@code to} does not record
 * the op), so backward stops at the cast: a float16 model's loss, computed from widened logits, has no gradient at
 * all. An in-place copy into a fresh tensor of the target dtype is recorded ({@code copy_}'s backward casts the
 * gradient back), and costs one more allocation.
 */
public final class Casts {
    private Casts() {
    }

    /** {@code x} in {@code dtype} (itself when it already is), in {@code x}'s manager, with its gradient path kept. */
    public static NDArray to(NDArray x, DataType dtype) {
        if (x.getDataType() == dtype) {
            return x;
        }
        NDArray out = x.getManager().zeros(x.getShape(), dtype, x.getDevice());
        out.set(new NDIndex("..."), x);
        return out;
    }
}
