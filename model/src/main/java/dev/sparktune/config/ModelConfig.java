package dev.sparktune.config;

/**
 * Section {@code model}: the pretrained checkpoint and how it is computed.
 *
 * @param quantizationBit 8 or 4 to hold the frozen base's linear weights as int8 or NF4 while LoRA trains on top
 *                        (QLoRA); 0 when unset
 */
public record ModelConfig(String modelNameOrPath, String computeDtype, String device, int quantizationBit) {

    static ModelConfig read(Section s) {
        String path = s.string("model_name_or_path", null);
        String dtype = s.choice("compute_dtype", "float32", "float32", "bfloat16", "float16", "float64");
        s.require(!dtype.equals("bfloat16"), "compute_dtype", "bfloat16 is not usable yet: DJL 0.36's PyTorch engine"
                + " aborts the JVM on bfloat16 tensors (bf16 checkpoints are widened to float32 on load);"
                + " use float32, float16 or float64");
        String device = s.choice("device", "auto", "auto", "cpu", "gpu");
        String bits = s.choice("quantization_bit", null, "8", "4");
        return new ModelConfig(path, dtype, device, bits == null ? 0 : Integer.parseInt(bits));
    }
}
