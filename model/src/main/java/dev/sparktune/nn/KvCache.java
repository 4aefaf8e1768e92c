package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of the tokens already decoded, per layer, so each generation step runs the
 * model on the new tokens only. Owns its arrays in its own manager; replaced arrays are freed.
 * Each step must run in its own {@link NDManager}, as every training and generation step does.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;

    public KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Number of positions cached so far. */
    public long length() {
        return keys[0] == null ? 0 : keys[0].getShape().get(2);
    }

    /**
     * Appends this step's keys and values ([B, kvHeads, T, d]) for one layer and returns the
     * whole sequence's, [B, kvHeads, past + T, d].
     */
    public NDList append(int layer, NDArray k, NDArray v) {
        NDArray allKeys = keys[layer] == null ? k.duplicate() : NDArrays.concat(new NDList(keys[layer], k), 2);
        NDArray allValues = values[layer] == null ? v.duplicate() : NDArrays.concat(new NDList(values[layer], v), 2);
        allKeys.attach(manager);
        allValues.attach(manager);
        if (keys[layer] != null) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = allKeys;
        values[layer] = allValues;
        // Lend them to the step's manager so that what attention derives from them is freed with
        // the step; when the step's manager closes they return to the cache.
        allKeys.tempAttach(k.getManager());
        allValues.tempAttach(k.getManager());
        return new NDList(allKeys, allValues);
    }

    /** Keeps only the rows (batch indices) given, in that order: how finished sequences leave a running batch. */
    public void keepRows(long[] rows) {
        replaceAll((cache, other, step) -> cache.get(step.create(rows)), null);
    }

    /**
     * Appends the rows of {@code other} below this cache's, for sequences that join a running batch. Both end at the
     * same position afterwards: the shorter cache gets zero positions inserted after its first {@code leading} ones
     * (prefix tuning's virtual tokens, which every row has in place), and callers mask those positions out as left
     * padding. The arrays of {@code other} are copied; it still has to be closed.
     */
    public void appendRows(KvCache other, int leading) {
        long length = Math.max(length(), other.length());
        replaceAll((cache, joining, step) -> padAfter(cache, leading, length, step)
                .concat(padAfter(joining, leading, length, step), 0), other);
    }

    /** Drops {@code count} positions after the first {@code leading}: columns that no remaining row attends to. */
    public void dropPositions(int leading, long count) {
        if (count == 0) {
            return;
        }
        replaceAll((cache, other, step) -> {
            NDArray tail = cache.get(":, :, " + (leading + count) + ":, :");
            return leading == 0 ? tail : cache.get(":, :, :" + leading + ", :").concat(tail, 2);
        }, null);
    }

    /** Number of rows (sequences) cached. */
    public long rows() {
        return keys[0] == null ? 0 : keys[0].getShape().get(0);
    }

    private interface Rewrite {
        NDArray apply(NDArray cache, NDArray other, NDManager step);
    }

    /**
     * Replaces every layer's keys and values by {@code rewrite} of them (and of {@code other}'s, if given). The work
     * runs in a sub-manager so that intermediates are freed; only the result moves into this cache's manager.
     */
    private void replaceAll(Rewrite rewrite, KvCache other) {
        for (NDArray[] arrays : new NDArray[][] {keys, values}) {
            NDArray[] others = other == null ? null : arrays == keys ? other.keys : other.values;
            for (int layer = 0; layer < arrays.length; layer++) {
                NDArray old = arrays[layer];
                try (NDManager step = manager.newSubManager()) {
                    old.tempAttach(step);
                    NDArray joining = others == null ? null : others[layer];
                    if (joining != null) {
                        joining.tempAttach(step);
                    }
                    NDArray fresh = rewrite.apply(old, joining, step);
                    fresh.attach(manager);
                    arrays[layer] = fresh;
                }
                old.close();
            }
        }
    }

    /** {@code cache} [B, heads, L, d] with zeros inserted after position {@code leading}, to {@code length} positions. */
    private static NDArray padAfter(NDArray cache, int leading, long length, NDManager step) {
        Shape shape = cache.getShape();
        long missing = length - shape.get(2);
        if (missing == 0) {
            return cache;
        }
        NDArray zeros = step.zeros(new Shape(shape.get(0), shape.get(1), missing, shape.get(3)), cache.getDataType());
        NDArray tail = zeros.concat(cache.get(":, :, " + leading + ":, :"), 2);
        return leading == 0 ? tail : cache.get(":, :, :" + leading + ", :").concat(tail, 2);
    }

    @Override
    public void close() {
        manager.close();
    }
}
