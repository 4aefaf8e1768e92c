package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;

/** {@code y = x W^T + b}, with W stored [out, in] as PyTorch and Hugging Face store it. */
public final class Linear {
    private Linear() {
    }

    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return bias == null
                ? ai.djl.nn.core.Linear.linear(x, weight).singletonOrThrow()
                : ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    }

    public static NDArray linear(NDArray x, NDArray weight) {
        return linear(x, weight, null);
    }
}
