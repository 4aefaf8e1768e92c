package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.EnumSet;

/**
 * Activation checkpointing (Chen et al., 2016, "Training Deep Nets with Sublinear Memory Cost"; Hugging Face's
 * {@code gradient_checkpointing}) over a model's blocks, for one thread's training passes in turn:
 * <ol>
 *   <li>{@link #run}, called by the model's forward, runs the blocks without autograd and keeps only each block's
 *       input; the last block's output comes back as a leaf that requires a gradient, so the head and the loss
 *       build their graph from there;</li>
 *   <li>the caller back-propagates the loss, which fills the head's gradients and that leaf's;</li>
 *   <li>{@link #backward} recomputes the blocks from the top with autograd on, each from its kept input made a leaf,
 *       and back-propagates through each the gradient its output received (a vector-Jacobian product:
 *       {@code JniUtils.backward} with that gradient as the upstream). Parameter gradients accumulate as in one
 *       backward over the whole graph; the leaf's gradient is the upstream of the block below. Block 0's input
 *       keeps the graph of what made it (embeddings, a prompt), so the last step reaches their parameters.</li>
 * </ol>
 * Dropout draws the same masks in a recomputation: each block's position in the thread's {@link SeededDropout}
 * stream is kept and sought back to. Masks from libtorch's generator (a thread without a seed, a GPU tensor)
 * cannot be replayed, and such a draw in a block is refused.
 *
 * <p>The model's parameters may live elsewhere between uses ({@link Parameters}): ZeRO-3 gathers a block's
 * parameters from the ranks' shards just before the block runs, in forward and again in its recomputation, and after
 * the block's backward reduce-scatters their gradients and lets the gathered parameters go. The parameters outside the
 * blocks are gathered for as long as their arrays are in a graph:
 * <ul>
 *   <li>those read before the blocks (embeddings, prompts), from {@link #startForward} to the end of
 *       {@link #backward}, whose last step back-propagates into them;</li>
 *   <li>those read after them (the final norm, the heads), from the end of {@link #run} to the start of
 *       {@link #backward}, by when the loss's backward has filled their gradients.</li>
 * </ul>
 * A forward without gradients (evaluation, generation) keeps both sides gathered for the next such forward, until
 * {@link #endEvaluation} or a training forward.
 */
public final class BlockCheckpoints implements BlockStack {
    /** The parameters outside the blocks, by when a forward reads them. */
    public enum Outside {
        /** Read before the first block: the embeddings, prompts. */
        BEFORE_BLOCKS,
        /** Read only after the last block: the final norm, BERT's pooler, the output heads. */
        AFTER_BLOCKS
    }

    /** Where the model's parameters are while they are not in use. */
    public interface Parameters {
        /** The parameters are arrays of the model all along. */
        Parameters RESIDENT = new Parameters() {
            @Override
            public void gather(int layer, boolean forBackward) {
            }

            @Override
            public void release(int layer, boolean afterBackward) {
            }

            @Override
            public void gatherOutside(Outside side, boolean withGradients) {
            }

            @Override
            public void releaseOutside(Outside side, boolean afterBackward) {
            }
        };

        /**
         * Makes block {@code layer}'s parameters arrays of the model; {@code forBackward}: for the recomputation whose
         * backward follows, so the trainable ones must require gradients.
         */
        void gather(int layer, boolean forBackward);

        /** Takes block {@code layer}'s parameters away again; {@code afterBackward}: their gradients are complete. */
        void release(int layer, boolean afterBackward);

        /**
         * Makes the parameters on {@code side} of the blocks arrays of the model; {@code withGradients}: the trainable
         * ones must require gradients, as a graph is built from them directly.
         */
        void gatherOutside(Outside side, boolean withGradients);

        /** Takes them away again; {@code afterBackward}: their gradients are complete. */
        void releaseOutside(Outside side, boolean afterBackward);
    }

    private final Parameters parameters;
    /** The forward whose blocks await their backward, or null. */
    private Pass pending;
    /** The sides gathered by forwards without gradients, kept for the next such forward until {@link #endEvaluation}. */
    private final EnumSet<Outside> heldForEvaluation = EnumSet.noneOf(Outside.class);
    /** Whether a training forward gathered the parameters before the blocks, which its {@link #backward} releases. */
    private boolean inputHeldForTraining;

    /** Checkpointed blocks whose parameters are arrays of the model. */
    public BlockCheckpoints() {
        this(Parameters.RESIDENT);
    }

    public BlockCheckpoints(Parameters parameters) {
        this.parameters = parameters;
    }

    /**
     * What one forward kept, in {@code scope}: the blocks' inputs and where their dropout masks start. The last
     * block's output {@code top}, and so the head's and the loss's arrays, live in {@code head}, freed first.
     */
    private record Pass(NDArray input, NDArray[] inputs, long[] dropoutPositions, Block block, NDArray top,
                        NDManager head, NDManager scope) {
    }

    @Override
    public void startForward() {
        if (!JniUtils.isGradMode()) {
            holdForEvaluation(Outside.BEFORE_BLOCKS);
            return;
        }
        if (pending != null) {
            throw new IllegalStateException("the blocks of the previous forward were not back-propagated (backward())");
        }
        endEvaluation();
        if (inputHeldForTraining) {
            parameters.releaseOutside(Outside.BEFORE_BLOCKS, false);    // a training forward that failed
        }
        parameters.gatherOutside(Outside.BEFORE_BLOCKS, true);
        inputHeldForTraining = true;
    }

    private void holdForEvaluation(Outside side) {
        if (heldForEvaluation.add(side)) {
            parameters.gatherOutside(side, false);
        }
    }

    /** Lets go of the parameters outside the blocks that forwards without gradients kept gathered. */
    public void endEvaluation() {
        for (Outside side : heldForEvaluation) {
            parameters.releaseOutside(side, false);
        }
        heldForEvaluation.clear();
    }

    @Override
    public NDArray run(NDArray input, int layers, Block block) {
        if (!JniUtils.isGradMode()) {
            NDArray out = evaluate(input, layers, block);    // a forward without backward (evaluation) keeps nothing
            holdForEvaluation(Outside.AFTER_BLOCKS);
            return out;
        }
        if (pending != null) {
            throw new IllegalStateException("the blocks of the previous forward were not back-propagated (backward())");
        }
        NDManager scope = input.getManager().newSubManager();
        NDArray[] inputs = new NDArray[layers];
        long[] positions = new long[layers];
        long libtorchDraws = SeededDropout.libtorchDraws();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            NDArray x = input.stopGradient();
            x.attach(scope);
            for (int layer = 0; layer < layers; layer++) {
                inputs[layer] = x;
                positions[layer] = SeededDropout.position();
                parameters.gather(layer, false);
                try {
                    x = inScope(layer, x, block, scope);
                } finally {
                    parameters.release(layer, false);
                }
            }
            if (SeededDropout.libtorchDraws() != libtorchDraws) {
                throw new IllegalStateException("train.gradient_checkpointing recomputes each block in backward with the"
                        + " dropout masks of its forward, and libtorch's generator cannot draw them again (dropout on a"
                        + " GPU tensor, or on a thread without SeededDropout.seed): train on the CPU (model.device: cpu),"
                        + " without dropout, or with train.gradient_checkpointing: false");
            }
            NDManager head = scope.newSubManager();
            x.attach(head);
            x.setRequiresGradient(true);
            parameters.gatherOutside(Outside.AFTER_BLOCKS, true);
            pending = new Pass(input, inputs, positions, block, x, head, scope);
            return x;
        } finally {
            JniUtils.setGradMode(gradMode);
            if (pending == null) {
                scope.close();
            }
        }
    }

    /**
     * Back-propagates, block by block from the top, the gradient that the loss's backward left on the last block's
     * output, and then into what made block 0's input. Closes every array of the forward: the head's and the loss's,
     * computed from the returned output, too; read them before.
     */
    public void backward() {
        if (pending == null) {
            throw new IllegalStateException("no checkpointed forward to back-propagate");
        }
        Pass pass = pending;
        pending = null;
        long dropoutAfterForward = SeededDropout.position();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            NDArray upstream = pass.top().getGradient();
            upstream.attach(pass.scope());
            pass.head().close();   // the logits and the loss's arrays: often the largest of the step
            parameters.releaseOutside(Outside.AFTER_BLOCKS, true);
            for (int layer = pass.inputs().length - 1; layer >= 0; layer--) {
                NDArray in = pass.inputs()[layer];
                in.setRequiresGradient(true);
                SeededDropout.seek(pass.dropoutPositions()[layer]);
                parameters.gather(layer, true);
                try (NDManager recompute = pass.scope().newSubManager()) {
                    NDArray out = pass.block().apply(layer, in.get(recompute, new NDIndex("...")));
                    JniUtils.backward((PtNDArray) out, (PtNDArray) upstream, false, false);
                }
                parameters.release(layer, true);
                upstream.close();
                upstream = in.getGradient();
                in.close();
            }
            intoInput(pass.input(), upstream, pass.scope());
            inputHeldForTraining = false;
            parameters.releaseOutside(Outside.BEFORE_BLOCKS, true);
        } finally {
            JniUtils.setGradMode(gradMode);
            SeededDropout.seek(dropoutAfterForward);
            pass.scope().close();
        }
    }

    /**
     * Back-propagates {@code upstream} into what made block 0's input (embeddings, a prompt), as the backward of
     * {@code sum(input * upstream)}. A zero leaf added to that sum gives it a graph even when nothing below block 0
     * trains, since DJL cannot tell whether {@code input} has one ({@code JniUtils.requiresGrad} is false for
     * every result of an operation).
     */
    private static void intoInput(NDArray input, NDArray upstream, NDManager scope) {
        try (NDManager vjp = scope.newSubManager()) {
            NDArray anchor = vjp.zeros(new Shape(), input.getDataType());
            anchor.setRequiresGradient(true);
            NDArray target = input.get(vjp, new NDIndex("...")).mul(upstream).sum().add(anchor);
            JniUtils.backward((PtNDArray) target, (PtNDArray) target.onesLike(), false, false);
        }
    }

    /** The blocks one after the other, each with its parameters gathered only while it runs. */
    private NDArray evaluate(NDArray input, int layers, Block block) {
        NDArray h = input;
        for (int layer = 0; layer < layers; layer++) {
            parameters.gather(layer, false);
            try {
                h = block.apply(layer, h);
            } finally {
                parameters.release(layer, false);
            }
        }
        return h;
    }

    /** Block {@code layer} on {@code x}, its intermediate arrays freed: only the output stays, in {@code scope}. */
    private static NDArray inScope(int layer, NDArray x, Block block, NDManager scope) {
        try (NDManager blockScope = scope.newSubManager()) {
            NDArray out = block.apply(layer, x.get(blockScope, new NDIndex("...")));
            out.attach(scope);
            return out;
        }
    }
}
