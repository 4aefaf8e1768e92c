package dev.sparktune.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.nn.AttentionMask;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The architectures' own dropout (config.json's rates) acts in training passes only, reproducibly for a seed. */
class DropoutTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private NDArray bert(Bert model) {
        NDArray ids = manager.create(new long[][] {{2, 14, 15, 9, 3}});
        NDArray keep = manager.create(new long[][] {{1, 1, 1, 1, 1}});
        return model.hiddenStates(ids, null, TinyModels.positions(manager, 1, 5), AttentionMask.bidirectional(keep));
    }

    private NDArray llama(Llama model) {
        NDArray ids = manager.create(new long[][] {{3, 14, 15, 9, 26}});
        return model.logits(ids, TinyModels.positions(manager, 1, 5), AttentionMask.causal(null), null);
    }

    @Test
    void bertDropoutOnlyInTrainingAndReproducibleForASeed() {
        BertConfig config = TinyModels.bertConfig(TinyModels.bertJson());
        assertEquals(0.1, config.hiddenDropoutProb(), "Hugging Face's BertConfig default");
        Bert eval = new Bert(config, TinyModels.randomWeights(config.parameterShapes(""), manager, DataType.FLOAT32, 1));
        Bert train = eval.with(eval.weights(), ForwardHooks.training(ForwardHooks.NONE));

        assertEquals(bert(eval), bert(eval));
        Engine.getInstance().setRandomSeed(11);
        NDArray first = bert(train);
        Engine.getInstance().setRandomSeed(11);
        NDArray again = bert(train);
        assertEquals(first, again);
        assertTrue(first.sub(bert(eval)).abs().max().getFloat() > 1e-3, "training pass must drop something");
    }

    @Test
    void llamaAttentionDropoutFollowsTheConfig() {
        LlamaConfig none = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 2, false, ""));
        Llama plain = new Llama(none, TinyModels.randomWeights(none.parameterShapes(), manager, DataType.FLOAT32, 2));
        Llama plainTraining = plain.with(plain.weights(), ForwardHooks.training(ForwardHooks.NONE));
        assertEquals(llama(plain), llama(plainTraining), "attention_dropout defaults to 0, as in Hugging Face");

        LlamaConfig dropping = TinyModels.llamaConfig(TinyModels.llamaJson("llama", 4, 2, false, "\"attention_dropout\": 0.5"));
        Llama eval = new Llama(dropping, plain.weights());
        Llama training = eval.with(eval.weights(), ForwardHooks.training(ForwardHooks.NONE));
        assertEquals(llama(plain), llama(eval));
        assertTrue(llama(training).sub(llama(eval)).abs().max().getFloat() > 1e-3);
    }
}
