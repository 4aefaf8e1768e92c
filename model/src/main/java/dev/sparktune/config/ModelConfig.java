package dev.sparktune.config;

/** Section {@code model}: the pretrained checkpoint and how it is computed. */
public record ModelConfig(String modelNameOrPath, String computeDtype, String device) {

    static ModelConfig read(Section s) {
        return new ModelConfig(
                s.string("model_name_or_path", null),
                s.choice("compute_dtype", "float32", "float32", "bfloat16", "float16", "float64"),
                s.choice("device", "auto", "auto", "cpu", "gpu"));
    }
}
