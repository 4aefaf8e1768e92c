package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.Weights;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A pretrained model with a fine-tuning method applied: the base weights plus the method's new
 * tensors, the forward as the method changes it, and the names that train. The base tensors are
 * shared, not copied: methods that train base weights (full, freeze, BitFit) change them in place.
 *
 * @param base      the model as loaded, unchanged
 * @param method    the method
 * @param weights   base and new tensors together
 * @param trainable names of the tensors that train
 */
public record PeftModel(PretrainedModel base, Method method, Weights weights, Set<String> trainable) {

    /** Applies {@code method} to {@code base}; new tensors are owned by {@code manager}, drawn from {@code seed}. */
    public static PeftModel apply(PretrainedModel base, Method method, NDManager manager, long seed) {
        ModelLayout layout = base.layout();
        Map<String, NDArray> added = method.newTensors(layout, base.weights(), manager, new Random(seed));
        return withTensors(base, method, added);
    }

    /** Applies {@code method} with tensors it already has (e.g. loaded from an adapter file). */
    public static PeftModel withTensors(PretrainedModel base, Method method, Map<String, NDArray> added) {
        Weights weights = base.weights().plus(Map.of(), base.weights().source() + " + " + method.getClass().getSimpleName());
        // an adapter may bring its own copy of a module it trains in full (modules_to_save, a task head)
        Set<String> replaceable = method.trainable(base.layout(), weights.asMap().keySet());
        for (String name : added.keySet()) {
            if (weights.has(name) && !replaceable.contains(name)) {
                throw new IllegalArgumentException("the method's tensor '" + name + "' would replace a frozen base tensor");
            }
        }
        weights = weights.plus(added, weights.source());
        Set<String> trainable = method.trainable(base.layout(), weights.asMap().keySet());
        return new PeftModel(base, method, weights, trainable);
    }

    /** The model to run: the method's forward over all tensors; {@code training} turns dropout on. */
    public PretrainedModel model(boolean training) {
        ForwardHooks hooks = method.hooks(base.layout(), training);
        return base.with(weights, training ? ForwardHooks.training(hooks) : hooks);
    }

    /** The trainable tensors by name, sorted. */
    public SortedMap<String, NDArray> trainableTensors() {
        SortedMap<String, NDArray> out = new TreeMap<>();
        trainable.forEach(name -> out.put(name, weights.get(name)));
        return out;
    }

    /** Marks exactly the trainable tensors as requiring gradients. */
    public void requireGradients() {
        weights.asMap().forEach((name, t) -> t.setRequiresGradient(trainable.contains(name)));
    }

    public TrainableParameters report() {
        long total = 0;
        long train = 0;
        for (Map.Entry<String, NDArray> e : weights.asMap().entrySet()) {
            long n = e.getValue().getShape().size();
            total += n;
            if (trainable.contains(e.getKey())) {
                train += n;
            }
        }
        for (String name : base.layout().linearModules()) {
            PackedTensor packed = weights.packed(name + ".weight");
            total += packed == null ? 0 : packed.shape().size();
        }
        return new TrainableParameters(train, total);
    }
}
