package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A model's parameters by their Hugging Face names ({@code model.layers.0.self_attn.q_proj.weight}).
 * Loading, saving, freezing and adapter injection are all operations on these names.
 */
public final class Weights {
    private final SortedMap<String, NDArray> tensors;
    private final String source;

    public Weights(Map<String, NDArray> tensors, String source) {
        this.tensors = new TreeMap<>(tensors);
        this.source = source;
    }

    public NDArray get(String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(source + ": missing tensor '" + name + "'");
        }
        return t;
    }

    /** The tensor, or null for an optional one (a bias, an untied head). */
    public NDArray find(String name) {
        return tensors.get(name);
    }

    /**
     * The tensor as a view owned by {@code step}, so that arithmetic starting from it is freed
     * with the step rather than kept by the weights' manager (a result belongs to the manager of
     * its first operand). Gradients still reach the parameter.
     */
    public NDArray borrow(String name, NDManager step) {
        return get(name).get(step, new NDIndex("..."));
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public SortedMap<String, NDArray> asMap() {
        return Collections.unmodifiableSortedMap(tensors);
    }

    public String source() {
        return source;
    }

    /**
     * Checks that every expected tensor is present with its shape. Tensors the architecture
     * does not know are allowed (adapters, buffers of older exports) and simply unused.
     */
    public void requireShapes(Map<String, Shape> expected) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Shape> e : new TreeMap<>(expected).entrySet()) {
            NDArray t = tensors.get(e.getKey());
            if (t == null) {
                problems.add("missing tensor '" + e.getKey() + "' " + e.getValue());
            } else if (!t.getShape().equals(e.getValue())) {
                problems.add("tensor '" + e.getKey() + "' has shape " + t.getShape() + ", config.json implies " + e.getValue());
            }
        }
        if (!problems.isEmpty()) {
            int shown = Math.min(problems.size(), 10);
            String more = problems.size() > shown ? "\n  ... and " + (problems.size() - shown) + " more" : "";
            throw new ModelFormatException(source + ":\n  " + String.join("\n  ", problems.subList(0, shown)) + more);
        }
    }
}
