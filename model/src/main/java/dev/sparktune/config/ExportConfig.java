package dev.sparktune.config;

/**
 * Section {@code export}: LLaMA-Factory's export keys, read by {@code sparktune export}, which merges the trained
 * adapter of {@code train.output_dir} into the base and writes a plain Hugging Face folder.
 *
 * @param exportDir  where the merged model goes; null until set (the command then says which key to set)
 * @param exportSize maximum shard size in GB (10^9 bytes, as Hugging Face's {@code max_shard_size="5GB"})
 */
public record ExportConfig(String exportDir, int exportSize) {

    static ExportConfig read(Section s) {
        String dir = s.string("export_dir", null);
        int size = s.integer("export_size", 5, Range.atLeast(1));
        s.notBuilt("export_quantization_bit", "sparktune export writes the merged weights in float32; int8 exports"
                + " are not built yet; remove the key");
        return new ExportConfig(dir, size);
    }
}
