package dev.sparktune.peft;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;

/** Tiny random base models of both families for method tests. */
final class TinyBases {
    private TinyBases() {
    }

    /** Qwen2: it has biases, so BitFit applies too. */
    static Llama llama(NDManager manager, DataType dtype) {
        LlamaConfig config = TinyModels.llamaConfig(TinyModels.llamaJson("qwen2", 4, 2, false, ""));
        return new Llama(config, TinyModels.randomWeights(config.parameterShapes(), manager, dtype, 1));
    }

    static Bert bertClassifier(NDManager manager, DataType dtype) {
        var config = TinyModels.bertConfig(TinyModels.bertJson());
        return new Bert(config, TinyModels.randomWeights(config.parameterShapes(""), manager, dtype, 2))
                .withClassifier(3, manager, 3);
    }

    static PretrainedModel base(String family, NDManager manager, DataType dtype) {
        return family.equals("llama") ? llama(manager, dtype) : bertClassifier(manager, dtype);
    }
}
