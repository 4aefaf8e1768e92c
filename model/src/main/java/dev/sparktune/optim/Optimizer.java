package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.config.TrainConfig;
import java.util.Map;
import java.util.TreeMap;

/**
 * Updates named trainable tensors in place from their gradients: an {@link UpdateRule}, the
 * {@link ParameterGroups} that scale its learning rate and set its weight decay per name, and
 * the {@link OptimizerState} it keeps per name. Each tensor's update runs in its own scratch
 * manager, so a step leaves nothing behind in the parameters' or the state's managers.
 */
public final class Optimizer implements AutoCloseable {

    private final UpdateRule rule;
    private final ParameterGroups groups;
    private final OptimizerState state;

    /** State tensors are created in a child of {@code manager} and freed by {@link #close()}. */
    public Optimizer(UpdateRule rule, ParameterGroups groups, NDManager manager) {
        this.rule = rule;
        this.groups = groups;
        this.state = new OptimizerState(rule.slots(), manager.newSubManager());
    }

    /** The optimizer a job's {@code train} section asks for: its {@code optim}, betas, epsilon and weight decay. */
    public static Optimizer from(TrainConfig c, NDManager manager) {
        return new Optimizer(UpdateRule.from(c), ParameterGroups.from(c), manager);
    }

    /**
     * One update of every tensor in {@code params} that has a gradient, at {@code lr} (the
     * schedule's rate, before group multipliers), in name order. Gradients are read, not zeroed:
     * call {@link Gradients#zero} before the next backward.
     */
    public void step(Map<String, NDArray> params, double lr) {
        for (Map.Entry<String, NDArray> e : new TreeMap<>(params).entrySet()) {
            try (NDManager scratch = NDManager.newBaseManager(e.getValue().getDevice())) {
                NDArray grad = Gradients.borrow(e.getKey(), e.getValue(), scratch);
                if (grad != null) {
                    update(e.getKey(), e.getValue(), grad, lr, scratch);
                }
            }
        }
    }

    /**
     * One update of {@code param} (the tensor named {@code name}, or the slice of it a ZeRO rank owns) from
     * {@code grad}, in place; temporaries and the borrowed state are returned with {@code scratch}.
     */
    public void update(String name, NDArray param, NDArray grad, double lr, NDManager scratch) {
        Map<String, NDArray> slots = state.borrow(name, param, scratch);
        ParameterGroups.Settings settings = groups.settings(name);
        rule.update(param, grad, slots, state.advance(name), lr * settings.lrScale(), settings.weightDecay());
    }

    public UpdateRule rule() {
        return rule;
    }

    public ParameterGroups groups() {
        return groups;
    }

    /** The per-name state, to export, load or measure. */
    public OptimizerState state() {
        return state;
    }

    @Override
    public void close() {
        state.close();
    }
}
