package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import dev.sparktune.config.TrainConfig;
import java.util.List;
import java.util.Map;

/**
 * How one parameter moves given its gradient: the part of an optimizer that differs between
 * AdamW, Lion and SGD. {@link Optimizer} does the rest (names, groups, state, memory).
 */
public sealed interface UpdateRule permits AdamW, Lion, Sgd {

    /** The per-parameter state tensors this rule keeps, by PyTorch's names. */
    List<String> slots();

    /**
     * Updates {@code param} in place. {@code state} holds this parameter's {@link #slots()}
     * (zeros before the first update), updated in place too; {@code step} counts updates of
     * this parameter including this one (1 on the first). The caller has attached every array
     * to a scratch manager, so temporaries made here are freed when the update ends.
     */
    void update(NDArray param, NDArray grad, Map<String, NDArray> state, long step, double lr, double weightDecay);

    /**
     * The rule a job's {@code optim} asks for. Lion takes its betas from {@code adam_beta1/2}
     * as Hugging Face's Trainer does; SGD its {@code sgd_momentum}.
     */
    static UpdateRule from(TrainConfig c) {
        return switch (c.optim()) {
            case "adamw" -> new AdamW(c.adamBeta1(), c.adamBeta2(), c.adamEpsilon());
            case "lion" -> new Lion(c.adamBeta1(), c.adamBeta2());
            case "sgd" -> new Sgd(c.sgdMomentum());
            default -> throw new IllegalArgumentException("unknown optim '" + c.optim() + "'; use adamw, lion or sgd");
        };
    }

    static void requireBeta(String name, double beta) {
        if (!(beta >= 0 && beta < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + beta);
        }
    }
}
