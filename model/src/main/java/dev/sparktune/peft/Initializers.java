package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/** Parameter initialisations, drawn from a seeded Java RNG so that a run is reproducible. */
final class Initializers {
    private Initializers() {
    }

    /**
     * PyTorch's {@code kaiming_uniform_(w, a=sqrt(5))}, nn.Linear's default and PEFT's for lora_A:
     * U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)), which is 1 / sqrt(fan_in).
     */
    static NDArray kaimingUniform(NDManager manager, Shape shape, DataType dtype, Random random) {
        long fanIn = shape.get(1);
        double bound = 1.0 / Math.sqrt(fanIn);
        double[] v = new double[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (2 * random.nextDouble() - 1) * bound;
        }
        return manager.create(v, shape).toType(dtype, false);
    }

    /** N(0, std^2), as nn.Embedding (std 1) and Hugging Face heads (std 0.02) start. */
    static NDArray normal(NDManager manager, Shape shape, double std, DataType dtype, Random random) {
        double[] v = new double[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = std * random.nextGaussian();
        }
        return manager.create(v, shape).toType(dtype, false);
    }
}
