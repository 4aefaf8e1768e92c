package dev.sparktune.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.TinyModels;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftModel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A decoder's frozen linear weights packed while the checkpoint is read ({@link FrozenBase#load}) give the model that
 * packing after loading gives ({@link FrozenBase#pack}): the same packed weights, the same LoRA tensors, the same
 * logits to the bit; and a linear layer the method trains in full (modules_to_save) stays a float array.
 */
class PackedLoadingTest {
    private static final Lora LORA = new Lora(4, 8, 0, List.of("all"), false, false, List.of("down_proj"));

    @TempDir
    static Path dir;

    @ParameterizedTest
    @EnumSource(value = FrozenBase.Storage.class, names = {"BF16", "INT8", "NF4"})
    void packingWhileLoadingEqualsPackingAfterLoading(FrozenBase.Storage storage) {
        Path folder = dir.resolve(storage.name());
        TinyModels.writeRandom(folder, TinyModels.llamaJson("llama", 4, 2, false, ""), 11);
        ModelDirectory directory = ModelDirectory.open(folder);
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel after = FrozenBase.pack(PeftModel.apply(directory.load(manager, DataType.FLOAT32), LORA, manager, 5),
                    storage);
            PretrainedModel streamed = FrozenBase.load(directory, LORA, manager, DataType.FLOAT32, storage);
            String q = "model.layers.0.self_attn.q_proj.weight";
            assertNotNull(streamed.weights().packed(q), "packed as it was read");
            assertNull(streamed.weights().packed("model.layers.0.mlp.down_proj.weight"), "trained in full: kept float");
            PeftModel during = FrozenBase.pack(PeftModel.apply(streamed, LORA, manager, 5), storage);

            assertEquals(after.weights().bytesByKind(), during.weights().bytesByKind());
            assertEquals(after.trainable(), during.trainable());
            for (String name : after.trainable()) {
                assertArrayEquals(after.weights().get(name).toFloatArray(), during.weights().get(name).toFloatArray(),
                        name);
            }
            assertArrayEquals(logits(after, manager), logits(during, manager));
        }
    }

    private static float[] logits(PeftModel model, NDManager manager) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray ids = scratch.create(new long[] {1, 5, 9, 2, 7, 3}, new Shape(1, 6));
            NDArray keep = scratch.ones(new Shape(1, 6), DataType.INT64);
            return ((Llama) model.model(false)).logits(ids, TinyModels.positions(scratch, 1, 6), AttentionMask.causal(keep),
                    null)
                    .toFloatArray();
        }
    }
}
