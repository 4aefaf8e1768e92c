package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.nn.AttentionMask;

/** One fixed batch through either family: logits for Llama, class logits for BERT. */
final class Forward {
    static final long[][] IDS = {{3, 14, 15, 9, 26, 5}, {0, 0, 27, 18, 28, 4}};
    static final long[][] KEEP = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    static final long[][] LEFT_PADDED_POSITIONS = {{0, 1, 2, 3, 4, 5}, {0, 0, 0, 1, 2, 3}};

    private Forward() {
    }

    static NDArray run(PretrainedModel model, NDManager m) {
        NDArray keep = m.create(KEEP);
        if (model instanceof Llama llama) {
            return llama.logits(m.create(IDS), m.create(LEFT_PADDED_POSITIONS), AttentionMask.causal(keep), null)
                    .mul(keep.expandDims(-1).toType(llama.weights().get("model.norm.weight").getDataType(), false));
        }
        Bert bert = (Bert) model;
        NDArray hidden = bert.hiddenStates(m.create(IDS), null, TinyModels.positions(m, 2, 6), AttentionMask.bidirectional(keep));
        return bert.classify(hidden, keep);
    }
}
