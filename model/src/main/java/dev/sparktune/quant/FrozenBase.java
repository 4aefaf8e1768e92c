package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.peft.PeftModel;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A PEFT model whose frozen linear weights are held packed ({@code model.quantization_bit}, {@code train.bf16}), as
 * QLoRA holds its base: the weight matrices of {@link LinearTargets} (not the output heads, embeddings, norms or
 * biases) that the method does not train. The adapters train in full precision on top; every forward (and the
 * recomputation of a checkpointed block) widens one weight at a time for its linear op.
 */
public final class FrozenBase {

    /** How the frozen linear weights are stored. */
    public enum Storage {
        FLOAT(null), BF16(Bf16Bits::of), INT8(Int8Rows::of), NF4(Nf4Blocks::of);

        private final Function<NDArray, PackedTensor> packer;

        Storage(Function<NDArray, PackedTensor> packer) {
            this.packer = packer;
        }

        /** From {@code model.quantization_bit} (0: none) and {@code train.bf16}; the quantisation takes precedence. */
        public static Storage of(int quantizationBit, boolean bf16) {
            return switch (quantizationBit) {
                case 8 -> INT8;
                case 4 -> NF4;
                case 0 -> bf16 ? BF16 : FLOAT;
                default -> throw new IllegalArgumentException("quantization_bit must be 4 or 8, got " + quantizationBit);
            };
        }
    }

    private FrozenBase() {
    }

    /**
     * {@code model} with its frozen linear weights packed as {@code storage} says; each float array is closed as
     * soon as it is packed. {@link Storage#FLOAT} returns {@code model} itself.
     */
    public static PeftModel pack(PeftModel model, Storage storage) {
        if (storage == Storage.FLOAT) {
            return model;
        }
        Map<String, PackedTensor> packed = new TreeMap<>();
        for (String module : LinearTargets.of(model.base().layout())) {
            String name = module + ".weight";
            if (!model.trainable().contains(name) && model.weights().packed(name) == null) {
                NDArray w = model.weights().get(name);
                packed.put(name, storage.packer.apply(w));
                w.close();
            }
        }
        PretrainedModel base = model.base().with(model.base().weights().packing(packed), ForwardHooks.NONE);
        return new PeftModel(base, model.method(), model.weights().packing(packed), model.trainable());
    }
}
