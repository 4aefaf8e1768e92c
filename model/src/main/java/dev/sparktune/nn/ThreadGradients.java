package dev.sparktune.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;

/**
 * A gradient collector for the calling thread alone, so that ranks sharing a JVM (threads of one Spark executor, or
 * of {@code local[*]}) run their forward and backward passes at the same time.
 *
 * <p>Why not DJL's own: its PyTorch collector keeps a JVM-wide flag and refuses a second collector while one is
 * open, so two ranks in one JVM had to take turns and a 2-core machine computed on one core. What the collector
 * switches, libtorch's grad mode, is thread-local, and concurrent backward passes over separate graphs are
 * supported by libtorch's autograd engine; the flag guards nothing this project needs. This collector makes the
 * same calls as DJL's without the flag.
 */
public final class ThreadGradients implements GradientCollector {
    static {
        Engine.getEngine("PyTorch");   // loads libtorch, whose functions this class calls directly
    }

    private final boolean gradModeBefore;

    public ThreadGradients() {
        gradModeBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
    }

    /** Back-propagates {@code target} (a scalar, or seeded with ones) into the gradients of its leaves. */
    @Override
    public void backward(NDArray target) {
        try (NDArray ones = target.onesLike()) {
            JniUtils.backward((PtNDArray) target, (PtNDArray) ones, false, false);
        }
    }

    /** Not supported: the optimizer owns the gradients it zeroes (DJL's version walks every array in the JVM). */
    @Override
    public void zeroGradients() {
        throw new UnsupportedOperationException("gradients are reset by the optimizer that reads them");
    }

    @Override
    public void close() {
        JniUtils.setGradMode(gradModeBefore);
    }
}
