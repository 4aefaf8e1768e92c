package dev.sparktune.arch;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonSyntaxException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Typed reads of a Hugging Face {@code config.json}; a missing or mistyped field is named with the file. */
final class ConfigJson {
    private final JsonObject json;
    private final String source;

    ConfigJson(JsonObject json, String source) {
        this.json = json;
        this.source = source;
    }

    static ConfigJson read(Path file) {
        try {
            return parse(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": missing; a model directory needs config.json");
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
    }

    static ConfigJson parse(String json, String source) {
        try {
            JsonElement parsed = JsonParser.parseString(json);
            if (!parsed.isJsonObject()) {
                throw new ModelFormatException(source + ": expected a JSON object");
            }
            return new ConfigJson(parsed.getAsJsonObject(), source);
        } catch (JsonSyntaxException e) {
            throw new ModelFormatException(source + ": not valid JSON: " + e.getMessage());
        }
    }

    String source() {
        return source;
    }

    String string(String field, String dflt) {
        JsonElement e = json.get(field);
        return e == null || e.isJsonNull() ? dflt : e.getAsString();
    }

    String requireString(String field) {
        String s = string(field, null);
        if (s == null) {
            throw missing(field);
        }
        return s;
    }

    int requireInt(String field) {
        if (!present(field)) {
            throw missing(field);
        }
        return integer(field, 0);
    }

    int integer(String field, int dflt) {
        if (!present(field)) {
            return dflt;
        }
        JsonElement e = json.get(field);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || e.getAsDouble() != Math.rint(e.getAsDouble())) {
            throw new ModelFormatException(source + ": field '" + field + "' must be a whole number, got " + e);
        }
        return e.getAsInt();
    }

    double number(String field, double dflt) {
        if (!present(field)) {
            return dflt;
        }
        JsonElement e = json.get(field);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new ModelFormatException(source + ": field '" + field + "' must be a number, got " + e);
        }
        return e.getAsDouble();
    }

    boolean flag(String field, boolean dflt) {
        if (!present(field)) {
            return dflt;
        }
        JsonElement e = json.get(field);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new ModelFormatException(source + ": field '" + field + "' must be true or false, got " + e);
        }
        return e.getAsBoolean();
    }

    /** A nested object such as {@code rope_scaling}, or null when absent. */
    ConfigJson object(String field) {
        if (!present(field)) {
            return null;
        }
        JsonElement e = json.get(field);
        if (!e.isJsonObject()) {
            throw new ModelFormatException(source + ": field '" + field + "' must be an object, got " + e);
        }
        return new ConfigJson(e.getAsJsonObject(), source + " (" + field + ")");
    }

    private boolean present(String field) {
        return json.has(field) && !json.get(field).isJsonNull();
    }

    private ModelFormatException missing(String field) {
        return new ModelFormatException(source + ": required field '" + field + "' is missing");
    }
}
