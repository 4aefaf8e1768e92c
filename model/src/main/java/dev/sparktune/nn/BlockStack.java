package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;

/**
 * How a model runs its stack of transformer blocks: one after the other ({@link #PLAIN}), or keeping only each
 * block's input and recomputing the blocks in backward ({@link BlockCheckpoints}).
 */
public interface BlockStack {
    BlockStack PLAIN = (input, layers, block) -> {
        NDArray h = input;
        for (int layer = 0; layer < layers; layer++) {
            h = block.apply(layer, h);
        }
        return h;
    };

    /**
     * Called by a model at the start of its forward, before it reads any parameter outside its blocks (the
     * embeddings): ZeRO-3 gathers them here ({@link BlockCheckpoints}).
     */
    default void startForward() {
    }

    /** The output of blocks 0 .. layers - 1 applied in turn to {@code input}. */
    NDArray run(NDArray input, int layers, Block block);

    /** Block {@code layer} of a model applied to its input. */
    @FunctionalInterface
    interface Block {
        NDArray apply(int layer, NDArray x);
    }
}
