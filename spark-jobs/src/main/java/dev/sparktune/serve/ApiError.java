package dev.sparktune.serve;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;

/**
 * A request the server refuses, answered with OpenAI's error object:
 * {@code {"error": {"message", "type", "param", "code"}}} and the matching HTTP status.
 */
final class ApiError extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a field is missing, of the wrong type or out of range; the message names it. */
    static ApiError badField(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message);
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request_error", null, null, message);
    }

    JsonObject toJson() {
        JsonObject error = new JsonObject();
        error.addProperty("message", getMessage());
        error.addProperty("type", type);
        if (param == null) {
            error.add("param", JsonNull.INSTANCE);
        } else {
            error.addProperty("param", param);
        }
        if (code == null) {
            error.add("code", JsonNull.INSTANCE);
        } else {
            error.addProperty("code", code);
        }
        JsonObject body = new JsonObject();
        body.add("error", error);
        return body;
    }
}
