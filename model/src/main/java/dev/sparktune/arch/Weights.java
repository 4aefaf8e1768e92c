package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A model's parameters by their Hugging Face names ({@code model.layers.0.self_attn.q_proj.weight}).
 * Loading, saving, freezing and adapter injection are all operations on these names. A frozen linear weight may be
 * held packed ({@link PackedTensor}: int8, NF4, bfloat16 bits) instead of as an array; only
 * {@link ForwardHooks#linear} reads it, widening it per use.
 */
public final class Weights {
    private final SortedMap<String, NDArray> tensors;
    private final SortedMap<String, PackedTensor> packed;
    private final String source;
    /**
     * The shapes of the tensors taken out by {@link #release} (ZeRO-3 holds them sharded between uses): still the
     * model's tensors, so {@link #has} and {@link #shape} know them, but {@link #get} and {@link #find} refuse them.
     */
    private final Map<String, Shape> released = new HashMap<>();

    public Weights(Map<String, NDArray> tensors, String source) {
        this(tensors, Map.of(), source);
    }

    public Weights(Map<String, NDArray> tensors, Map<String, PackedTensor> packed, String source) {
        this.tensors = new TreeMap<>(tensors);
        this.packed = new TreeMap<>(packed);
        this.source = source;
        this.tensors.keySet().forEach(name -> {
            if (this.packed.containsKey(name)) {
                throw new IllegalArgumentException(source + ": tensor '" + name + "' is given both packed and as an array");
            }
        });
    }

    public NDArray get(String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(source + ": " + (packed.containsKey(name)
                    ? "tensor '" + name + "' is stored packed (" + packed.get(name).kind() + "); only a linear layer reads it"
                    : released.containsKey(name) ? notGathered(name)
                    : "missing tensor '" + name + "'"));
        }
        return t;
    }

    private String notGathered(String name) {
        return "tensor '" + name + "' is sharded over the ranks (ZeRO-3) and not gathered";
    }

    /**
     * Takes the array {@code name} out of these weights and returns it (not closed): ZeRO-3 keeps a shard of it
     * elsewhere and {@link #hold}s the gathered tensor only while the model uses it. Every holder of these weights (the
     * training and the evaluation forward) sees it gone.
     */
    public NDArray release(String name) {
        NDArray t = tensors.remove(name);
        if (t == null) {
            throw new IllegalArgumentException(source + ": no array '" + name + "' to release");
        }
        released.put(name, t.getShape());
        return t;
    }

    /** Puts a {@link #release}d tensor back, e.g. gathered from the ranks' shards. */
    public void hold(String name, NDArray tensor) {
        if (!released.containsKey(name)) {
            throw new IllegalArgumentException(source + ": '" + name + "' was not released");
        }
        tensors.put(name, tensor);
    }

    /** The tensor's packed form, or null when it is an array (or absent). */
    public PackedTensor packed(String name) {
        return packed.get(name);
    }

    /** These weights with {@code more} tensors added (or replacing arrays of the same name); the packed ones kept. */
    public Weights plus(Map<String, NDArray> more, String newSource) {
        Map<String, NDArray> all = new TreeMap<>(tensors);
        all.putAll(more);
        return new Weights(all, packed, newSource);
    }

    /** These weights with the tensors of {@code replacements} held packed instead of as arrays (the arrays are not closed). */
    public Weights packing(Map<String, PackedTensor> replacements) {
        Map<String, NDArray> arrays = new TreeMap<>(tensors);
        arrays.keySet().removeAll(replacements.keySet());
        Map<String, PackedTensor> all = new TreeMap<>(packed);
        all.putAll(replacements);
        return new Weights(arrays, all, source);
    }

    /** The tensor's shape, packed, sharded or neither. */
    public Shape shape(String name) {
        PackedTensor p = packed.get(name);
        return p != null ? p.shape() : !tensors.containsKey(name) && released.containsKey(name) ? released.get(name)
                : get(name).getShape();
    }

    /**
     * Native bytes held, by how they are stored: the array dtypes ({@code float32}) and the packed kinds
     * ({@code nf4}), each packed kind with its scales.
     */
    public SortedMap<String, Long> bytesByKind() {
        SortedMap<String, Long> out = new TreeMap<>();
        tensors.values().forEach(t -> out.merge(t.getDataType().toString(), t.size() * t.getDataType().getNumOfBytes(), Long::sum));
        packed.values().forEach(p -> out.merge(p.kind(), p.bytes(), Long::sum));
        return out;
    }

    /** The dtype of the float arrays, the one packed weights widen to for the model's computation. */
    public DataType floatType() {
        return tensors.values().stream().map(NDArray::getDataType).filter(DataType::isFloating).findFirst()
                .orElseThrow(() -> new ModelFormatException(source + ": no float tensor"));
    }

    /** The tensor, or null for an optional one (a bias, an untied head) that the model does not have. */
    public NDArray find(String name) {
        NDArray t = tensors.get(name);
        if (t == null && released.containsKey(name)) {
            throw new ModelFormatException(source + ": " + notGathered(name));
        }
        return t;
    }

    /**
     * The tensor as a view owned by {@code step}, so that arithmetic starting from it is freed
     * with the step rather than kept by the weights' manager (a result belongs to the manager of
     * its first operand). Gradients still reach the parameter.
     */
    public NDArray borrow(String name, NDManager step) {
        return get(name).get(step, new NDIndex("..."));
    }

    /** Whether the model has the tensor: as an array, packed, or sharded over the ranks. */
    public boolean has(String name) {
        return tensors.containsKey(name) || packed.containsKey(name) || released.containsKey(name);
    }

    /** The tensors held as arrays (not the packed ones). */
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
            if (!has(e.getKey())) {
                problems.add("missing tensor '" + e.getKey() + "' " + e.getValue());
            } else if (!shape(e.getKey()).equals(e.getValue())) {
                problems.add("tensor '" + e.getKey() + "' has shape " + shape(e.getKey()) + ", config.json implies " + e.getValue());
            }
        }
        if (!problems.isEmpty()) {
            int shown = Math.min(problems.size(), 10);
            String more = problems.size() > shown ? "\n  ... and " + (problems.size() - shown) + " more" : "";
            throw new ModelFormatException(source + ":\n  " + String.join("\n  ", problems.subList(0, shown)) + more);
        }
    }
}
