package dev.sparktune.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * An optimizer's state by parameter name, as PyTorch's {@code optimizer.state[p]} holds it: the
 * rule's slot tensors ({@code exp_avg}, ...) and the parameter's step count. Exported and loaded
 * as one flat map keyed {@code "<parameter>/<slot>"} and {@code "<parameter>/step"}, so that it
 * can be sharded and checkpointed by name. Slot tensors are owned by this state's manager.
 */
public final class OptimizerState implements AutoCloseable {

    public static final String STEP = "step";

    private final List<String> slotNames;
    private final NDManager manager;
    private final SortedMap<String, Map<String, NDArray>> slots = new TreeMap<>();
    private final SortedMap<String, Long> steps = new TreeMap<>();

    OptimizerState(List<String> slotNames, NDManager manager) {
        this.slotNames = List.copyOf(slotNames);
        this.manager = manager;
    }

    /** Names of the parameters with state: those updated at least once, or loaded. */
    public Set<String> parameters() {
        return Collections.unmodifiableSet(steps.keySet());
    }

    /** How many updates {@code param} has had. */
    public long step(String param) {
        return steps.getOrDefault(param, 0L);
    }

    /** {@code param}'s slot tensors by slot name, live; empty before its first update. */
    public Map<String, NDArray> slots(String param) {
        return Collections.unmodifiableMap(slots.getOrDefault(param, Map.of()));
    }

    /** Native bytes held by the slot tensors (the step counts are not tensors here). */
    public long bytes() {
        long total = 0;
        for (Map<String, NDArray> perParam : slots.values()) {
            for (NDArray t : perParam.values()) {
                total += t.getShape().size() * t.getDataType().getNumOfBytes();
            }
        }
        return total;
    }

    /**
     * The whole state, flat: {@code "<parameter>/<slot>"} to the live slot tensor (owned by this
     * state and changed by the next step: write or copy it before stepping again), and
     * {@code "<parameter>/step"} to an int64 scalar created in {@code into}.
     */
    public SortedMap<String, NDArray> export(NDManager into) {
        SortedMap<String, NDArray> out = new TreeMap<>();
        for (Map.Entry<String, Long> e : steps.entrySet()) {
            out.put(key(e.getKey(), STEP), into.create(e.getValue().longValue()));
            slots.getOrDefault(e.getKey(), Map.of()).forEach((slot, t) -> out.put(key(e.getKey(), slot), t));
        }
        return out;
    }

    /**
     * Replaces the whole state with {@code exported} (as {@link #export} writes it; the tensors
     * are copied). Every parameter needs its step and all of this rule's slots, and nothing else.
     */
    public void load(Map<String, NDArray> exported) {
        SortedMap<String, Map<String, NDArray>> byParameter = new TreeMap<>();
        for (Map.Entry<String, NDArray> e : exported.entrySet()) {
            int slash = e.getKey().lastIndexOf('/');
            String slot = slash < 0 ? "" : e.getKey().substring(slash + 1);
            if (slash <= 0 || !(slot.equals(STEP) || slotNames.contains(slot))) {
                throw new IllegalArgumentException("optimizer state key '" + e.getKey() + "' is not <parameter>/<slot> with"
                        + " a slot of " + slotsAndStep());
            }
            byParameter.computeIfAbsent(e.getKey().substring(0, slash), k -> new TreeMap<>()).put(slot, e.getValue());
        }
        for (Map.Entry<String, Map<String, NDArray>> e : byParameter.entrySet()) {
            if (!e.getValue().keySet().equals(Set.copyOf(slotsAndStep()))) {
                throw new IllegalArgumentException("optimizer state for '" + e.getKey() + "' has " + e.getValue().keySet()
                        + ", expected " + slotsAndStep());
            }
        }
        clear();
        for (Map.Entry<String, Map<String, NDArray>> e : byParameter.entrySet()) {
            steps.put(e.getKey(), e.getValue().get(STEP).toArray()[0].longValue());
            Map<String, NDArray> own = new LinkedHashMap<>();
            for (String slot : slotNames) {
                NDArray copy = e.getValue().get(slot).duplicate();
                copy.attach(manager);
                own.put(slot, copy);
            }
            slots.put(e.getKey(), own);
        }
    }

    /**
     * {@code param}'s slots lent to {@code scratch} (created as zeros like {@code param} on first
     * use), after checking that loaded state fits the parameter.
     */
    Map<String, NDArray> borrow(String name, NDArray param, NDManager scratch) {
        Map<String, NDArray> own = slots.computeIfAbsent(name, k -> new LinkedHashMap<>());
        for (String slot : slotNames) {
            NDArray t = own.get(slot);
            if (t == null) {
                t = manager.zeros(param.getShape(), param.getDataType(), param.getDevice());
                own.put(slot, t);
            } else if (!t.getShape().equals(param.getShape()) || t.getDataType() != param.getDataType()) {
                throw new IllegalStateException("optimizer state '" + key(name, slot) + "' is " + t.getDataType() + " "
                        + t.getShape() + " but the parameter is " + param.getDataType() + " " + param.getShape());
            }
            t.tempAttach(scratch);
        }
        return own;
    }

    /** Counts one more update of {@code param} and returns the new count. */
    long advance(String param) {
        return steps.merge(param, 1L, Long::sum);
    }

    private List<String> slotsAndStep() {
        List<String> all = new ArrayList<>(slotNames);
        all.add(STEP);
        return all;
    }

    private static String key(String param, String slot) {
        return param + "/" + slot;
    }

    private void clear() {
        slots.values().forEach(m -> m.values().forEach(NDArray::close));
        slots.clear();
        steps.clear();
    }

    @Override
    public void close() {
        clear();
        manager.close();
    }
}
