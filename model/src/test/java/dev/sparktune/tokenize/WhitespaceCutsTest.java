package dev.sparktune.tokenize;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which tokenizers let a long text be encoded from a start and an end cut at whitespace. */
class WhitespaceCutsTest {
    @TempDir
    Path dir;

    @Test
    void bertsRealTokenizerCutsExactly() throws IOException {
        assertTrue(WhitespaceCuts.exact(MiniLmModelDir.create(dir).resolve("tokenizer.json")));
    }

    @Test
    void whitespaceSplittingSequencesCutExactly() throws IOException {
        assertTrue(WhitespaceCuts.exact(withParts(null, """
                {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Punctuation"}]}""")));
        assertTrue(WhitespaceCuts.exact(withParts("""
                {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}""",
                "{\"type\": \"Whitespace\"}")));
    }

    @Test
    void byteLevelMetaspaceAndTextRewritingNormalizersAreEncodedWhole() throws IOException {
        // GPT-2 and Llama 3 fold a space into the next token; SentencePiece-style tokenizers mark it with a prefix
        assertFalse(WhitespaceCuts.exact(withParts(null, "{\"type\": \"ByteLevel\", \"add_prefix_space\": false}")));
        assertFalse(WhitespaceCuts.exact(withParts(null, "{\"type\": \"Metaspace\", \"replacement\": \"\u2581\"}")));
        assertFalse(WhitespaceCuts.exact(withParts(null, """
                {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "ByteLevel"}]}""")));
        assertFalse(WhitespaceCuts.exact(withParts("""
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}""", "{\"type\": \"WhitespaceSplit\"}")));
        assertFalse(WhitespaceCuts.exact(withParts(null, null)), "no pre-tokenizer: the model sees the whole text");
    }

    @Test
    void anUnreadableFileIsEncodedWhole() throws IOException {
        assertFalse(WhitespaceCuts.exact(Files.writeString(dir.resolve("tokenizer.json"), "{\"normalizer\": ")));
        assertFalse(WhitespaceCuts.exact(dir.resolve("missing.json")));
    }

    /** MiniLM's real tokenizer.json with its normalizer and pre-tokenizer replaced (null: JSON null). */
    private Path withParts(String normalizer, String preTokenizer) throws IOException {
        Path file = MiniLmModelDir.create(dir).resolve("tokenizer.json");
        JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        json.add("normalizer", normalizer == null ? null : JsonParser.parseString(normalizer));
        json.add("pre_tokenizer", preTokenizer == null ? null : JsonParser.parseString(preTokenizer));
        return Files.writeString(file, json.toString(), StandardCharsets.UTF_8);
    }
}
