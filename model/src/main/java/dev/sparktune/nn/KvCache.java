package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

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

    @Override
    public void close() {
        manager.close();
    }
}
