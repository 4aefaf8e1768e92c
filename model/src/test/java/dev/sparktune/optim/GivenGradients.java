package dev.sparktune.optim;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.Map;

/** Puts chosen values into parameters' gradients the way training does: through backward. */
final class GivenGradients {

    private GivenGradients() {
    }

    /** Afterwards each named parameter's gradient equals {@code grads}'s array (d/dp sum(G * p) = G). */
    static void set(Map<String, NDArray> params, Map<String, double[]> grads) {
        Gradients.zero(params);
        try (NDManager step = NDManager.newBaseManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray loss = null;
            for (Map.Entry<String, double[]> e : grads.entrySet()) {
                NDArray p = params.get(e.getKey());
                NDArray term = step.create(e.getValue(), p.getShape()).toType(p.getDataType(), false).mul(p).sum();
                loss = loss == null ? term : loss.add(term);
            }
            collector.backward(loss);
        }
    }
}
