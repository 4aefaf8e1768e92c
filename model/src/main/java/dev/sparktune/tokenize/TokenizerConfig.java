package dev.sparktune.tokenize;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * The keys of a Hugging Face {@code tokenizer_config.json} that change how text becomes ids or how a chat is
 * rendered. Special tokens are their text here; {@link Tokenizer} resolves them to ids. Null means the file does
 * not set the key (or sets it to null); a model directory without the file gets Hugging Face's defaults.
 *
 * @param addBosToken    Llama-style flag; when it or {@code addEosToken} is set, these two decide alone which
 *                       special tokens frame a sequence (Hugging Face rebuilds the post-processor from them)
 * @param modelMaxLength empty when the model sets no limit (Hugging Face writes {@code 1e30} for that)
 * @param chatTemplate   Jinja source, the {@code default} one when the file lists several
 */
public record TokenizerConfig(
        Path source,
        String bosToken,
        String eosToken,
        String padToken,
        String unkToken,
        Boolean addBosToken,
        Boolean addEosToken,
        Side paddingSide,
        Side truncationSide,
        OptionalInt modelMaxLength,
        String chatTemplate) {

    public static final String FILE = "tokenizer_config.json";

    public static TokenizerConfig read(Path modelDir) {
        Path file = modelDir.resolve(FILE);
        if (!Files.exists(file)) {
            return new TokenizerConfig(file, null, null, null, null, null, null, Side.RIGHT, Side.RIGHT,
                    OptionalInt.empty(), null);
        }
        JsonObject json = parse(file);
        return new TokenizerConfig(
                file,
                specialToken(json, "bos_token", file),
                specialToken(json, "eos_token", file),
                specialToken(json, "pad_token", file),
                specialToken(json, "unk_token", file),
                flag(json, "add_bos_token", file),
                flag(json, "add_eos_token", file),
                side(json, "padding_side", file),
                side(json, "truncation_side", file),
                maxLength(json, file),
                chatTemplate(json, file));
    }

    /** True when the Llama-style {@code add_bos_token} / {@code add_eos_token} flags decide the framing. */
    boolean framesWithFlags() {
        return addBosToken != null || addEosToken != null;
    }

    private static JsonObject parse(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new TokenizerException(file, "cannot read: " + e.getMessage(), e);
        }
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (JsonParseException e) {
            throw new TokenizerException(file, "not valid JSON: " + rootCause(e).getMessage(), e);
        }
        if (!root.isJsonObject()) {
            throw new TokenizerException(file, "expected a JSON object at the top level, got " + describe(root));
        }
        return root.getAsJsonObject();
    }

    /** A special token is written either as its text or as an AddedToken object {@code {"content": ...}}. */
    private static String specialToken(JsonObject json, String key, Path file) {
        JsonElement value = json.get(key);
        if (value == null || value.isJsonNull()) {
            return null;
        }
        if (isString(value)) {
            return value.getAsString();
        }
        if (value.isJsonObject() && isString(value.getAsJsonObject().get("content"))) {
            return value.getAsJsonObject().get("content").getAsString();
        }
        throw new TokenizerException(file, key + ": expected a string or an object with a string \"content\", got "
                + describe(value));
    }

    private static Boolean flag(JsonObject json, String key, Path file) {
        JsonElement value = json.get(key);
        if (value == null || value.isJsonNull()) {
            return null;
        }
        if (value.isJsonPrimitive() && value.getAsJsonPrimitive().isBoolean()) {
            return value.getAsBoolean();
        }
        throw new TokenizerException(file, key + ": expected true or false, got " + describe(value));
    }

    private static Side side(JsonObject json, String key, Path file) {
        JsonElement value = json.get(key);
        if (value == null || value.isJsonNull()) {
            return Side.RIGHT;
        }
        Side side = isString(value) ? Side.parse(value.getAsString()) : null;
        if (side == null) {
            throw new TokenizerException(file, key + ": expected \"left\" or \"right\", got " + describe(value));
        }
        return side;
    }

    private static OptionalInt maxLength(JsonObject json, Path file) {
        JsonElement value = json.get("model_max_length");
        if (value == null || value.isJsonNull()) {
            return OptionalInt.empty();
        }
        if (!value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            throw new TokenizerException(file, "model_max_length: expected a number, got " + describe(value));
        }
        BigDecimal length = value.getAsBigDecimal();
        if (length.signum() <= 0) {
            throw new TokenizerException(file, "model_max_length: must be positive, got " + length);
        }
        // Hugging Face stores int(1e30) when a model has no limit; anything past an int means the same.
        if (length.compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(length.intValue());
    }

    /** {@code chat_template} is a string, or a list of {@code {name, template}} of which we take "default". */
    private static String chatTemplate(JsonObject json, Path file) {
        JsonElement value = json.get("chat_template");
        if (value == null || value.isJsonNull()) {
            return null;
        }
        if (isString(value)) {
            return value.getAsString();
        }
        if (!value.isJsonArray()) {
            throw new TokenizerException(file, "chat_template: expected a string or a list of {name, template}, got "
                    + describe(value));
        }
        List<String> names = new ArrayList<>();
        for (JsonElement entry : value.getAsJsonArray()) {
            JsonObject named = entry.isJsonObject() ? entry.getAsJsonObject() : null;
            if (named == null || !isString(named.get("name")) || !isString(named.get("template"))) {
                throw new TokenizerException(file, "chat_template: each entry of the list needs a string \"name\" "
                        + "and a string \"template\", got " + describe(entry));
            }
            if (named.get("name").getAsString().equals("default")) {
                return named.get("template").getAsString();
            }
            names.add(named.get("name").getAsString());
        }
        throw new TokenizerException(file, "chat_template: the list has no template named \"default\", only "
                + names);
    }

    private static boolean isString(JsonElement value) {
        return value != null && value.isJsonPrimitive() && value.getAsJsonPrimitive().isString();
    }

    private static String describe(JsonElement value) {
        String text = value.toString();
        return text.length() > 60 ? text.substring(0, 57) + "..." : text;
    }

    private static Throwable rootCause(Throwable e) {
        return e.getCause() == null ? e : rootCause(e.getCause());
    }
}
