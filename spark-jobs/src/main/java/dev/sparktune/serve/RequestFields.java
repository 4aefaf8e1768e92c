package dev.sparktune.serve;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed access to a request body's fields, OpenAI's way: unknown fields are ignored, null counts as absent, and a field
 * of the wrong type or range is a 400 that names it.
 */
final class RequestFields {
    private final JsonObject body;

    RequestFields(JsonObject body) {
        this.body = body;
    }

    boolean has(String name) {
        return body.has(name) && !body.get(name).isJsonNull();
    }

    JsonElement get(String name) {
        return has(name) ? body.get(name) : null;
    }

    String string(String name, String otherwise) {
        if (!has(name)) {
            return otherwise;
        }
        JsonElement e = body.get(name);
        if (!(e instanceof JsonPrimitive p) || !p.isString()) {
            throw ApiError.badField(name, name + " must be a string, got " + shown(e));
        }
        return p.getAsString();
    }

    boolean bool(String name, boolean otherwise) {
        if (!has(name)) {
            return otherwise;
        }
        JsonElement e = body.get(name);
        if (!(e instanceof JsonPrimitive p) || !p.isBoolean()) {
            throw ApiError.badField(name, name + " must be true or false, got " + shown(e));
        }
        return p.getAsBoolean();
    }

    double number(String name, double otherwise, double min, double max) {
        if (!has(name)) {
            return otherwise;
        }
        JsonElement e = body.get(name);
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) {
            throw ApiError.badField(name, name + " must be a number, got " + shown(e));
        }
        double value = p.getAsDouble();
        if (!(value >= min && value <= max)) {
            throw ApiError.badField(name, name + " must be between " + min + " and " + max + ", got " + shown(e));
        }
        return value;
    }

    /** An integer in [min, max]; a number with a fraction is refused. */
    long integer(String name, long otherwise, long min, long max) {
        if (!has(name)) {
            return otherwise;
        }
        JsonElement e = body.get(name);
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) {
            throw ApiError.badField(name, name + " must be an integer, got " + shown(e));
        }
        double value = p.getAsDouble();
        if (value != Math.rint(value) || !(value >= min && value <= max)) {
            throw ApiError.badField(name, name + " must be an integer from " + min + " to " + max + ", got " + shown(e));
        }
        return p.getAsBigDecimal().longValueExact();
    }

    /** A string or an array of strings, as {@code stop}, {@code prompt} and {@code input} take them. */
    List<String> strings(String name, int maxCount) {
        if (!has(name)) {
            return List.of();
        }
        JsonElement e = body.get(name);
        List<String> out = new ArrayList<>();
        if (e instanceof JsonPrimitive p && p.isString()) {
            out.add(p.getAsString());
        } else if (e instanceof JsonArray array) {
            for (JsonElement item : array) {
                if (!(item instanceof JsonPrimitive p) || !p.isString()) {
                    throw ApiError.badField(name, name + " must be a string or an array of strings; token-id arrays"
                            + " are not supported, got the item " + shown(item));
                }
                out.add(p.getAsString());
            }
        } else {
            throw ApiError.badField(name, name + " must be a string or an array of strings, got " + shown(e));
        }
        if (out.size() > maxCount) {
            throw ApiError.badField(name, name + " may hold at most " + maxCount + " strings, got " + out.size());
        }
        return out;
    }

    JsonArray array(String name) {
        JsonElement e = get(name);
        if (e == null) {
            throw ApiError.badField(name, name + " is required");
        }
        if (!(e instanceof JsonArray array)) {
            throw ApiError.badField(name, name + " must be an array, got " + shown(e));
        }
        return array;
    }

    /** A value for an error message, cut short: a request may be up to the body limit in size. */
    static String shown(JsonElement value) {
        String text = String.valueOf(value);
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }
}
