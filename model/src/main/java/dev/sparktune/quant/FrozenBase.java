package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.arch.ForwardHooks;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
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
     * The model of {@code folder} in {@code dtype}, a decoder's frozen linear weights packed as {@code storage} says
     * while they are read ({@link ModelDirectory#load(NDManager, DataType, java.util.function.BiFunction)}): each is
     * widened to float alone, so a base whose packed form fits in memory loads where its float form would not. Which
     * weights are frozen follows from the config: the linear weights that {@code method} does not train. An encoder's
     * layout depends on its weights, so it loads in float and {@link #pack} packs it after the method is applied.
     */
    public static PretrainedModel load(ModelDirectory folder, Method method, NDManager manager, DataType dtype,
                                       Storage storage) {
        if (storage == Storage.FLOAT || folder.modelType().equals("bert")) {
            return folder.load(manager, dtype);
        }
        LlamaConfig config = LlamaConfig.fromJson(folder.configJson(), folder.path().toString());
        ModelLayout layout = ModelLayout.of(config);
        Set<String> trained = method.trainable(layout, config.parameterShapes().keySet());
        Set<String> frozen = new HashSet<>();
        for (String module : LinearTargets.of(layout)) {
            if (!trained.contains(module + ".weight")) {
                frozen.add(module + ".weight");
            }
        }
        return folder.load(manager, dtype, (name, t) -> frozen.contains(name) ? storage.packer.apply(t) : null);
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
