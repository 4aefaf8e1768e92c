package dev.sparktune.tokenize;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Token text to id and back, read from {@code tokenizer.json}: the model's vocabulary plus its added tokens.
 * DJL's tokenizer does not expose these, so we stream the file once and skip everything else (merges are large).
 */
final class Vocabulary {

    private final Map<String, Integer> ids;
    private final String[] tokens;
    private final String padToken;

    private Vocabulary(Map<String, Integer> ids, String padToken) {
        this.ids = ids;
        this.padToken = padToken;
        int maxId = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.tokens = new String[maxId + 1];
        ids.forEach((token, id) -> tokens[id] = token);
    }

    static Vocabulary read(Path file) {
        Map<String, Integer> ids = new HashMap<>();
        String padToken = null;
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8); JsonReader json = new JsonReader(in)) {
            json.beginObject();
            while (json.hasNext()) {
                switch (json.nextName()) {
                    case "model" -> readModel(json, ids);
                    case "added_tokens" -> readAddedTokens(json, ids);
                    case "padding" -> padToken = readPadToken(json);
                    default -> json.skipValue();
                }
            }
            json.endObject();
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(file, "not a Hugging Face tokenizer.json: " + e.getMessage(), e);
        }
        if (ids.isEmpty()) {
            throw new TokenizerException(file, "has no model.vocab and no added_tokens; not a tokenizer.json?");
        }
        return new Vocabulary(ids, padToken);
    }

    /** Number of distinct tokens, added ones included: Hugging Face's {@code len(tokenizer)}. */
    int size() {
        return ids.size();
    }

    OptionalLong id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalLong.empty() : OptionalLong.of(id);
    }

    String token(long id) {
        return id >= 0 && id < tokens.length ? tokens[(int) id] : null;
    }

    /** The pad token named by tokenizer.json's own padding section, or null. */
    String padToken() {
        return padToken;
    }

    /** BPE, WordPiece and WordLevel keep {@code vocab} as {token: id}; Unigram as [[token, score], ...] by id. */
    private static void readModel(JsonReader json, Map<String, Integer> ids) throws IOException {
        json.beginObject();
        while (json.hasNext()) {
            if (!json.nextName().equals("vocab")) {
                json.skipValue();
            } else if (json.peek() == JsonToken.BEGIN_OBJECT) {
                json.beginObject();
                while (json.hasNext()) {
                    ids.put(json.nextName(), json.nextInt());
                }
                json.endObject();
            } else {
                json.beginArray();
                for (int id = 0; json.hasNext(); id++) {
                    json.beginArray();
                    ids.put(json.nextString(), id);
                    json.skipValue();
                    json.endArray();
                }
                json.endArray();
            }
        }
        json.endObject();
    }

    private static void readAddedTokens(JsonReader json, Map<String, Integer> ids) throws IOException {
        json.beginArray();
        while (json.hasNext()) {
            Integer id = null;
            String content = null;
            json.beginObject();
            while (json.hasNext()) {
                switch (json.nextName()) {
                    case "id" -> id = json.nextInt();
                    case "content" -> content = json.nextString();
                    default -> json.skipValue();
                }
            }
            json.endObject();
            if (id == null || content == null) {
                throw new IllegalStateException("an added_tokens entry lacks \"id\" or \"content\"");
            }
            ids.put(content, id);
        }
        json.endArray();
    }

    private static String readPadToken(JsonReader json) throws IOException {
        if (json.peek() == JsonToken.NULL) {
            json.nextNull();
            return null;
        }
        String padToken = null;
        json.beginObject();
        while (json.hasNext()) {
            if (json.nextName().equals("pad_token")) {
                padToken = json.nextString();
            } else {
                json.skipValue();
            }
        }
        json.endObject();
        return padToken;
    }
}
