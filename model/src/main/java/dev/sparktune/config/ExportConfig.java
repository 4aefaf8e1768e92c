package dev.sparktune.config;

/**
 * Section {@code export}: LLaMA-Factory's export keys and the pruning ones, read by {@code sparktune export}, which
 * merges the trained adapter of {@code train.output_dir} into the base and writes a plain Hugging Face folder (or
 * copies the adapter alone).
 *
 * @param exportDir             where the export goes; null until set (the command then says which key to set)
 * @param exportSize            maximum shard size in GB (10^9 bytes, as Hugging Face's {@code max_shard_size="5GB"})
 * @param exportType            {@code merged} (a whole model folder) or {@code adapter} (the PEFT adapter alone)
 * @param exportQuantizationBit 8 for int8 weight-only linear layers, null for float weights
 * @param pruneSparsity         the share of each linear weight matrix set to 0 by magnitude, in [0, 1); 0 = off
 * @param prunePattern          {@code unstructured} or {@code 2:4}
 */
public record ExportConfig(String exportDir, int exportSize, String exportType, Integer exportQuantizationBit,
                           double pruneSparsity, String prunePattern) {

    static ExportConfig read(Section s) {
        String dir = s.string("export_dir", null);
        int size = s.integer("export_size", 5, Range.atLeast(1));
        String type = s.choice("export_type", "merged", "merged", "adapter");
        Integer bits = null;
        if (s.string("export_quantization_bit", null) != null) {
            bits = s.integer("export_quantization_bit", 8, Range.ANY);
            s.require(bits == 8, "export_quantization_bit", "only 8 is built (int8 weight-only, one scale per output"
                    + " channel), got " + bits + "; remove the key for float32 weights");
        }
        double sparsity = s.number("prune_sparsity", 0.0, Range.closedOpen(0, 1));
        String pattern = s.choice("prune_pattern", "unstructured", "unstructured", "2:4");
        s.require(!pattern.equals("2:4") || sparsity == 0.5, "prune_sparsity", "prune_pattern 2:4 zeroes 2 of every 4"
                + " weights, a sparsity of exactly 0.5; set export.prune_sparsity: 0.5 (got " + sparsity + ")");
        s.require(!type.equals("adapter") || bits == null, "export_quantization_bit", "export_type adapter copies"
                + " the trained adapter as it is; int8 applies to a merged export (export_type: merged)");
        s.require(!type.equals("adapter") || sparsity == 0, "prune_sparsity", "export_type adapter copies the trained"
                + " adapter as it is; pruning applies to a merged export (export_type: merged)");
        return new ExportConfig(dir, size, type, bits, sparsity, pattern);
    }

    /** Whether the export changes the weights (int8 or pruning), so its report compares it with the float model. */
    public boolean compresses() {
        return exportQuantizationBit != null || pruneSparsity > 0;
    }
}
