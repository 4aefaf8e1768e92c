package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov &amp; Hutter, 2019) as {@code torch.optim.AdamW} computes it: the weight
 * decay is decoupled, {@code p *= 1 - lr wd}, then the Adam step with bias-corrected moments,
 * {@code p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)}; epsilon is added after
 * the square root and its bias correction.
 */
public record AdamW(double beta1, double beta2, double epsilon) implements UpdateRule {

    public AdamW {
        UpdateRule.requireBeta("adam_beta1", beta1);
        UpdateRule.requireBeta("adam_beta2", beta2);
        if (!(epsilon > 0)) {
            throw new IllegalArgumentException("adam_epsilon must be > 0, got " + epsilon);
        }
    }

    @Override
    public List<String> slots() {
        return List.of("exp_avg", "exp_avg_sq");
    }

    @Override
    public void update(NDArray param, NDArray grad, Map<String, NDArray> state, long step, double lr, double weightDecay) {
        NDArray m = state.get("exp_avg");
        NDArray v = state.get("exp_avg_sq");
        if (weightDecay != 0) {
            param.muli(1 - lr * weightDecay);
        }
        m.muli(beta1).addi(grad.mul(1 - beta1));
        v.muli(beta2).addi(grad.square().muli(1 - beta2));
        double biasCorrection1 = 1 - Math.pow(beta1, step);
        double biasCorrection2 = 1 - Math.pow(beta2, step);
        NDArray denominator = v.sqrt().divi(Math.sqrt(biasCorrection2)).addi(epsilon);
        param.subi(m.div(denominator).muli(lr / biasCorrection1));
    }
}
