package dev.sparktune.tokenize;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Whether cutting a text at an ASCII whitespace character changes none of the tokens on either side of the cut, so
 * that the start (or the end) of a long text, encoded alone, gives exactly the whole text's first (or last) tokens.
 * That holds when {@code tokenizer.json}'s normalizer works character by character and its pre-tokenizer splits at
 * whitespace, dropping it: BERT's family (WordPiece, all-MiniLM-L6-v2). Byte-level BPE and SentencePiece-style
 * tokenizers fold a space into the next token, so their texts are always encoded whole.
 */
final class WhitespaceCuts {
    private static final Set<String> SPLITTING_PRE_TOKENIZERS = Set.of("BertPreTokenizer", "Whitespace", "WhitespaceSplit");
    private static final Set<String> OTHER_PRE_TOKENIZERS = Set.of("Punctuation", "Digits");
    private static final Set<String> CHARACTER_NORMALIZERS = Set.of("BertNormalizer", "Lowercase", "StripAccents",
            "NFD", "NFKD", "NFC", "NFKC");

    private WhitespaceCuts() {
    }

    /** True when texts cut at whitespace encode exactly; false when unsure (any other component, or unreadable). */
    static boolean exact(Path tokenizerJson) {
        JsonElement normalizer = null;
        JsonElement preTokenizer = null;
        try (Reader in = Files.newBufferedReader(tokenizerJson, StandardCharsets.UTF_8);
             JsonReader json = new JsonReader(in)) {
            json.beginObject();
            while (json.hasNext()) {
                switch (json.nextName()) {
                    case "normalizer" -> normalizer = JsonParser.parseReader(json);
                    case "pre_tokenizer" -> preTokenizer = JsonParser.parseReader(json);
                    default -> json.skipValue();
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return characterWise(normalizer) && splitsAtWhitespace(preTokenizer);
    }

    private static boolean characterWise(JsonElement normalizer) {
        if (normalizer == null || normalizer.isJsonNull()) {
            return true;
        }
        JsonObject n = normalizer.getAsJsonObject();
        String type = type(n);
        if (type.equals("Sequence")) {
            for (JsonElement part : n.getAsJsonArray("normalizers")) {
                if (!characterWise(part)) {
                    return false;
                }
            }
            return true;
        }
        return CHARACTER_NORMALIZERS.contains(type);
    }

    private static boolean splitsAtWhitespace(JsonElement preTokenizer) {
        if (preTokenizer == null || preTokenizer.isJsonNull()) {
            return false;
        }
        JsonObject p = preTokenizer.getAsJsonObject();
        String type = type(p);
        if (!type.equals("Sequence")) {
            return SPLITTING_PRE_TOKENIZERS.contains(type);
        }
        boolean splits = false;
        for (JsonElement part : p.getAsJsonArray("pretokenizers")) {
            String partType = type(part.getAsJsonObject());
            if (SPLITTING_PRE_TOKENIZERS.contains(partType)) {
                splits = true;
            } else if (!OTHER_PRE_TOKENIZERS.contains(partType)) {
                return false;
            }
        }
        return splits;
    }

    private static String type(JsonObject component) {
        JsonElement type = component.get("type");
        return type == null || type.isJsonNull() ? "" : type.getAsString();
    }
}
