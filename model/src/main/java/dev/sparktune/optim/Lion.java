package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2):
 * {@code c = b1 m + (1 - b1) g; p -= lr (sign(c) + wd p); m = b2 m + (1 - b2) g}. The update
 * interpolates with {@code beta1} but the momentum is kept with {@code beta2}.
 */
public record Lion(double beta1, double beta2) implements UpdateRule {

    public Lion {
        UpdateRule.requireBeta("beta1", beta1);
        UpdateRule.requireBeta("beta2", beta2);
    }

    @Override
    public List<String> slots() {
        return List.of("exp_avg");
    }

    @Override
    public void update(NDArray param, NDArray grad, Map<String, NDArray> state, long step, double lr, double weightDecay) {
        NDArray m = state.get("exp_avg");
        NDArray direction = m.mul(beta1).addi(grad.mul(1 - beta1)).signi();
        if (weightDecay != 0) {
            param.muli(1 - lr * weightDecay);
        }
        param.subi(direction.muli(lr));
        m.muli(beta2).addi(grad.mul(1 - beta2));
    }
}
