package dev.sparktune.config;

/** Section {@code model}: the pretrained checkpoint and how it is computed. */
public record ModelConfig(String modelNameOrPath, String computeDtype, String device) {

    static ModelConfig read(Section s) {
        String path = s.string("model_name_or_path", null);
        String dtype = s.choice("compute_dtype", "float32", "float32", "bfloat16", "float16", "float64");
        s.require(!dtype.equals("bfloat16"), "compute_dtype", "bfloat16 is not usable yet: DJL 0.36's PyTorch engine"
                + " aborts the JVM on bfloat16 tensors (bf16 checkpoints are widened to float32 on load);"
                + " use float32, float16 or float64");
        return new ModelConfig(path, dtype, s.choice("device", "auto", "auto", "cpu", "gpu"));
    }
}
