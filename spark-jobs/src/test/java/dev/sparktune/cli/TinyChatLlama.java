package dev.sparktune.cli;

import dev.sparktune.arch.TinyModels;
import dev.sparktune.io.onnx.MiniLmArtifact;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The tiny chat Llama the CLI tests train, evaluate, serve and submit: random weights in the Hugging Face layout,
 * MiniLM's WordPiece tokenizer (so its vocabulary of 30,522) and the ChatML chat template.
 */
final class TinyChatLlama {
    private TinyChatLlama() {
    }

    /** The model in {@code folder}, with TinyModels' context of 128 positions. */
    static Path write(Path folder) throws IOException {
        return write(folder, 128);
    }

    /** The model in {@code folder}, with a context of {@code maxPositions} tokens. */
    static Path write(Path folder, int maxPositions) throws IOException {
        Path model = TinyModels.writeRandom(folder, TinyModels.llamaJson("llama", 4, 2, false, "")
                .replace("\"vocab_size\": 61", "\"vocab_size\": 30522")
                .replace("\"max_position_embeddings\": 128", "\"max_position_embeddings\": " + maxPositions), 3);
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, model.resolve("tokenizer.json"));
        try (InputStream chatml = TinyChatLlama.class.getResourceAsStream(
                "/dev/sparktune/tokenize/templates/chatml.jinja")) {
            Files.write(model.resolve("chat_template.jinja"), chatml.readAllBytes());
        }
        return model;
    }
}
