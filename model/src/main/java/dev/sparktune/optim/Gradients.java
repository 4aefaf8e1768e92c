package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * The gradients of named trainable tensors: their global norm, clipping, a finiteness check and
 * zeroing. Tensors that backward has not reached yet have no gradient and are skipped, as
 * PyTorch skips a parameter whose {@code grad} is None.
 */
public final class Gradients {

    private Gradients() {
    }

    /** The L2 norm of all gradients together, as if concatenated into one vector. */
    public static double globalNorm(Map<String, NDArray> params) {
        double[] squares = {0};
        forEach(params, (name, g) -> {
            double n = g.norm().toType(DataType.FLOAT64, false).getDouble();
            squares[0] += n * n;
        });
        return Math.sqrt(squares[0]);
    }

    /**
     * {@code torch.nn.utils.clip_grad_norm_}: when the global norm exceeds {@code maxNorm},
     * scales every gradient by {@code maxNorm / (norm + 1e-6)}. Returns the norm before
     * clipping. {@code maxNorm} 0 turns clipping off (the norm is still returned). A NaN norm
     * leaves the gradients as they are (PyTorch would turn them all NaN); see {@link #nonFinite}.
     */
    public static double clipByGlobalNorm(Map<String, NDArray> params, double maxNorm) {
        if (!(maxNorm >= 0)) {
            throw new IllegalArgumentException("max_grad_norm must be >= 0, got " + maxNorm);
        }
        double norm = globalNorm(params);
        double coefficient = maxNorm / (norm + 1e-6);
        if (maxNorm > 0 && coefficient < 1) {
            forEach(params, (name, g) -> g.muli(coefficient));
        }
        return norm;
    }

    /** Multiplies every gradient by {@code factor} in place (unscaling a scaled loss's gradients). */
    public static void scale(Map<String, NDArray> params, double factor) {
        forEach(params, (name, g) -> g.muli(factor));
    }

    /** Names of the tensors whose gradient holds a NaN or an infinity, sorted. */
    public static List<String> nonFinite(Map<String, NDArray> params) {
        List<String> bad = new ArrayList<>();
        forEach(params, (name, g) -> {
            if (g.isNaN().logicalOr(g.isInfinite()).any().getBoolean()) {
                bad.add(name);
            }
        });
        return bad;
    }

    /**
     * Sets every gradient to zero in place. PyTorch adds each backward's gradients to the ones
     * already there, so this goes between optimizer steps. Filling (rather than multiplying by
     * zero) also clears NaNs.
     */
    public static void zero(Map<String, NDArray> params) {
        forEach(params, (name, g) -> g.set(new NDIndex("..."), 0));
    }

    /** Calls {@code action} with each gradient in name order, in a scratch manager per tensor. */
    private static void forEach(Map<String, NDArray> params, BiConsumer<String, NDArray> action) {
        for (Map.Entry<String, NDArray> e : new TreeMap<>(params).entrySet()) {
            try (NDManager scratch = NDManager.newBaseManager(e.getValue().getDevice())) {
                NDArray g = borrow(e.getKey(), e.getValue(), scratch);
                if (g != null) {
                    action.accept(e.getKey(), g);
                }
            }
        }
    }

    /**
     * {@code param}'s gradient, with {@code param} lent to {@code scratch} so that the gradient and
     * everything computed from either is freed with it; null when backward has not reached it.
     */
    public static NDArray borrow(String name, NDArray param, NDManager scratch) {
        if (!param.hasGradient()) {
            throw new IllegalArgumentException("tensor '" + name + "' does not require gradients; only trainable tensors"
                    + " can be optimised");
        }
        param.tempAttach(scratch);
        // DJL's getGradient() answers an undefined grad with fresh float32 zeros; ask libtorch directly
        NDArray g = JniUtils.getGradient((PtNDArray) param);
        if (g != null) {
            g.attach(scratch);
        }
        return g;
    }
}
