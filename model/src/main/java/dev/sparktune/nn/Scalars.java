package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Arithmetic with a constant that is safe under autograd; use these, not DJL's {@code Number} overloads, wherever
 * a gradient flows.
 *
 * <p>Why: DJL's {@code x.mul(0.5)} wraps the number in a tensor that libtorch reads straight from a Java direct
 * buffer ({@code from_blob}, no copy) and closes that tensor as soon as the op returns. Autograd keeps the constant
 * for backward (mul, div and pow need it), and once the closed wrapper and its buffer are garbage-collected, backward
 * reads freed memory: gradients that are now and then wrong or NaN, depending on when the collector ran. It showed
 * as NaN gradients in the first layers of long test runs. The constants here live in libtorch's own memory.
 */
public final class Scalars {
    private Scalars() {
    }

    /** A scalar tensor holding {@code value} in {@code like}'s dtype and manager, in libtorch-owned memory. */
    public static NDArray constant(NDArray like, double value) {
        // zeros() is allocated by libtorch; the in-place add reads the boxed number once, before it can be freed
        return like.getManager().zeros(new Shape(), like.getDataType()).addi(value);
    }

    /** {@code x * value}. */
    public static NDArray times(NDArray x, double value) {
        return x.mul(constant(x, value));
    }

    /** {@code x / value}. */
    public static NDArray dividedBy(NDArray x, double value) {
        return x.div(constant(x, value));
    }
}
