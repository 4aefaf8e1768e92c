package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * SGD with momentum as {@code torch.optim.SGD} computes it (dampening 0, not Nesterov): weight
 * decay is L2 added to the gradient, {@code d = g + wd p}; then {@code buf = momentum buf + d}
 * and {@code p -= lr buf}. With momentum 0 there is no buffer and {@code p -= lr d}.
 */
public record Sgd(double momentum) implements UpdateRule {

    public Sgd {
        UpdateRule.requireBeta("momentum", momentum);
    }

    @Override
    public List<String> slots() {
        return momentum == 0 ? List.of() : List.of("momentum_buffer");
    }

    @Override
    public void update(NDArray param, NDArray grad, Map<String, NDArray> state, long step, double lr, double weightDecay) {
        NDArray d = weightDecay != 0 ? grad.add(param.mul(weightDecay)) : grad;
        if (momentum != 0) {
            // PyTorch starts the buffer as a copy of d; from zeros, momentum * 0 + d is the same
            d = state.get("momentum_buffer").muli(momentum).addi(d);
        }
        param.subi(d.mul(lr));
    }
}
