package dev.sparktune.config;

/** Section {@code export}: where and how a trained model is written, LLaMA-Factory's key names. */
public record ExportConfig(String exportDir, int exportSize, int exportQuantizationBit) {

    static ExportConfig read(Section s) {
        String dir = s.string("export_dir", null);
        int sizeGb = s.integer("export_size", 5, Range.atLeast(1));
        int bits = s.integer("export_quantization_bit", 0, Range.closed(0, 8));
        s.require(bits == 0 || bits == 8, "export_quantization_bit", "only 8-bit export is built; 0 means none");
        return new ExportConfig(dir, sizeGb, bits);
    }
}
