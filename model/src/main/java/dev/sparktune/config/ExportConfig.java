package dev.sparktune.config;

/**
 * Section {@code export}: LLaMA-Factory's export keys. Not built yet: {@code sparktune train} exports the trained
 * adapter or model into {@code train.output_dir}; merged, sharded and int8 exports arrive with {@code sparktune
 * export}. Until then setting any of these keys is an error, never a key that does nothing.
 */
public record ExportConfig() {

    static ExportConfig read(Section s) {
        String why = "train writes <output_dir>/adapter or <output_dir>/model; merged, sharded and int8 exports"
                + " (sparktune export) are not built yet; remove the key";
        s.notBuilt("export_dir", why);
        s.notBuilt("export_size", why);
        s.notBuilt("export_quantization_bit", why);
        return new ExportConfig();
    }
}
