package dev.sparktune.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.Weights;
import dev.sparktune.peft.Freeze;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * StepFlops against counts worked out by hand for a Llama of 2 blocks, hidden 8 (2 heads of 4), feed-forward 12,
 * vocabulary 10, untied head, at 2 rows of 4 tokens. Per token: a block's q, k, v, o are 4 x 2·8·8 = 512 FLOPs and
 * gate, up, down 3 x 2·8·12 = 576, so 1,088; attention 4·T·8 = 128; the head 2·8·10 = 160.
 */
class StepFlopsTest {
    private static final int ROWS = 2;
    private static final int TOKENS = 4;
    private static final double TOKEN_COUNT = ROWS * TOKENS;

    private NDManager manager;
    private Llama llama;

    @BeforeEach
    void tinyLlama() {
        manager = NDManager.newBaseManager();
        LlamaConfig config = LlamaConfig.fromJson("""
                {"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 12,
                 "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
                 "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": 16,
                 "hidden_act": "silu"}""", "test");
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        config.parameterShapes().forEach((name, shape) -> tensors.put(name, manager.zeros(shape, DataType.FLOAT32)));
        llama = new Llama(config, new Weights(tensors, "zeros"));
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private double count(Method method) {
        return StepFlops.count(PeftModel.apply(llama, method, manager, 1), ROWS, TOKENS);
    }

    @Test
    void fullFineTuningIsThreeForwardPasses() {
        double forward = 2 * (1088 + 128) + 160;
        assertEquals(3 * forward * TOKEN_COUNT, count(new FullFineTuning()));
    }

    @Test
    void freezingTheBottomBlockLeavesItsForwardAlone() {
        // block 0: forward only; block 1: forward, weight and input gradients; the head (frozen: freeze tuning
        // trains blocks and task heads, not lm_head): forward and input gradient
        double perToken = (1088 + 128) + 3 * (1088 + 128) + 2 * 160;
        assertEquals(perToken * TOKEN_COUNT, count(new Freeze(1, List.of())));
    }

    @Test
    void loraOnQAndVAddsItsPairsAndNoFrozenWeightGradient() {
        // every block trains (q, v in both): frozen weights cost forward + input gradient; attention forward +
        // backward; each LoRA pair of rank 2 on an 8 x 8 projection 2·2·(8+8) = 64, three times (forward, its weight
        // gradients, its input gradient); the head is frozen: forward and input gradient
        double block = 2 * 1088 + 3 * 128 + 2 * 3 * 64;
        double perToken = 2 * block + 2 * 160;
        assertEquals(perToken * TOKEN_COUNT, count(new Lora(2, 4, 0.0, List.of("q_proj", "v_proj"), false, false,
                List.of())));
    }
}
