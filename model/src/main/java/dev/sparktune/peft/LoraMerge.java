package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.arch.ModelDirectory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Folds LoRA into the base weights and back: W' = W + s B A, or for DoRA
 * W' = m / ||W + s B A|| * (W + s B A) row by row. The DoRA norms are kept from the merge so
 * that unmerging is exact, as PEFT caches them.
 */
public final class LoraMerge {
    private LoraMerge() {
    }

    /**
     * @param weights every tensor of a plain model: the adapted ones replaced, no LoRA tensors left
     * @param doraNorms per adapted module, ||W + s B A|| at merge time (DoRA only)
     */
    public record Merged(Map<String, NDArray> weights, Map<String, NDArray> doraNorms) {
    }

    /**
     * The merged weights. A base held packed (quantised or bfloat16, {@code model.quantization_bit},
     * {@code train.bf16}) is refused rather than merged into its rounded values: a merged model is meant to be the
     * float base plus the adapter, so merge into the base loaded again from its folder, as {@code sparktune export} does.
     */
    public static Merged merge(PeftModel model, NDManager manager) {
        Lora lora = requireLora(model);
        for (String module : model.base().layout().linearModules()) {
            if (model.weights().packed(module + ".weight") != null) {
                throw new IllegalArgumentException("cannot merge LoRA into a packed base ('" + module + ".weight' is held "
                        + model.weights().packed(module + ".weight").kind() + "): merging would bake its rounding into the"
                        + " model; merge the adapter into the float base loaded again from its model folder"
                        + " (sparktune export does)");
            }
        }
        Map<String, NDArray> out = new LinkedHashMap<>(model.weights().asMap());
        Map<String, NDArray> norms = new LinkedHashMap<>();
        for (String module : lora.targetModules(model.base().layout())) {
            NDArray w = out.get(module + ".weight");
            NDArray updated = delta(model, lora, module, manager).add(w);
            if (lora.useDora()) {
                NDArray norm = updated.norm(new int[] {1});
                NDArray magnitude = model.weights().borrow(module + ".lora_magnitude_vector", manager);
                updated = updated.mul(magnitude.div(norm).expandDims(1));
                norm.attach(manager);
                norms.put(module, norm);
            }
            updated.attach(manager);
            out.put(module + ".weight", updated);
            out.remove(module + ".lora_A.weight");
            out.remove(module + ".lora_B.weight");
            out.remove(module + ".lora_magnitude_vector");
        }
        return new Merged(out, norms);
    }

    /**
     * Writes the LoRA model merged into its base as a plain Hugging Face model folder: the
     * source folder's config.json and tokenizer files, the merged weights.
     */
    public static ModelDirectory export(PeftModel model, ModelDirectory source, Path out, long maxShardBytes) {
        try (NDManager scratch = NDManager.newBaseManager()) {
            Merged merged = merge(model, scratch);
            return ModelDirectory.write(out, source.configJson(), merged.weights(), maxShardBytes, source.path());
        }
    }

    /** The base weights back from a merge: W = W' - s B A, or for DoRA W = W' * ||W + s B A|| / m - s B A. */
    public static Map<String, NDArray> unmerge(Merged merged, PeftModel model, NDManager manager) {
        Lora lora = requireLora(model);
        Map<String, NDArray> out = new LinkedHashMap<>(merged.weights());
        for (String module : lora.targetModules(model.base().layout())) {
            NDArray w = out.get(module + ".weight");
            if (lora.useDora()) {
                NDArray magnitude = model.weights().get(module + ".lora_magnitude_vector");
                w = w.mul(merged.doraNorms().get(module).div(magnitude).expandDims(1));
            }
            NDArray base = w.sub(delta(model, lora, module, manager));
            base.attach(manager);
            out.put(module + ".weight", base);
        }
        return out;
    }

    /** s B A for one module, [out, in]. */
    private static NDArray delta(PeftModel model, Lora lora, String module, NDManager manager) {
        NDArray b = model.weights().borrow(module + ".lora_B.weight", manager);
        return b.matMul(model.weights().get(module + ".lora_A.weight")).mul(lora.scaling());
    }

    private static Lora requireLora(PeftModel model) {
        if (!(model.method() instanceof Lora lora)) {
            throw new IllegalArgumentException("only LoRA merges into the base weights; this model uses "
                    + model.method().getClass().getSimpleName());
        }
        return lora;
    }
}
