package dev.sparktune.serve;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The models a running server answers for, each with what runs it: a {@link ContinuousBatcher} for a decoder, an
 * {@link EncoderEndpoint} for an encoder. The first model is the base, used when a request names none.
 */
final class ModelRegistry implements AutoCloseable {
    private final Map<String, ServedModel> models = new LinkedHashMap<>();
    private final Map<String, ContinuousBatcher> batchers = new LinkedHashMap<>();
    private final Map<String, EncoderEndpoint> encoders = new LinkedHashMap<>();
    private final long created = System.currentTimeMillis() / 1000;

    ModelRegistry(List<ServedModel> served, NDManager manager, ServerSettings settings, ServerMetrics metrics) {
        for (ServedModel model : served) {
            if (models.putIfAbsent(model.id(), model) != null) {
                throw new IllegalArgumentException("two models would both be served as '" + model.id()
                        + "'; give the folders different names");
            }
        }
        for (ServedModel model : served) {
            if (model.generates()) {
                batchers.put(model.id(), new ContinuousBatcher(model, manager, settings.maxBatch(),
                        settings.maxQueue(), metrics));
            } else {
                encoders.put(model.id(), new EncoderEndpoint(model, manager, settings, metrics));
            }
        }
    }

    /** The model a request names, the base when it names none; an unknown name is a 404. */
    ServedModel resolve(String id) {
        if (id == null) {
            return models.values().iterator().next();
        }
        ServedModel model = models.get(id);
        if (model == null) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "The model '" + id
                    + "' does not exist; this server has " + String.join(", ", models.keySet()));
        }
        return model;
    }

    ContinuousBatcher batcher(ServedModel model, String endpoint) {
        ContinuousBatcher batcher = batchers.get(model.id());
        if (batcher == null) {
            throw ApiError.badField("model", model.id() + " is an encoder; " + endpoint + " needs a decoder"
                    + " (use /v1/embeddings or /v1/classify)");
        }
        return batcher;
    }

    EncoderEndpoint encoder(ServedModel model, String endpoint) {
        EncoderEndpoint encoder = encoders.get(model.id());
        if (encoder == null) {
            throw ApiError.badField("model", model.id() + " is a decoder; " + endpoint + " needs an encoder"
                    + " (use /v1/completions or /v1/chat/completions)");
        }
        return encoder;
    }

    /** {@code GET /v1/models}: each model with its base as {@code parent}, as vLLM lists LoRA adapters. */
    JsonObject json() {
        JsonArray data = new JsonArray();
        for (ServedModel model : models.values()) {
            JsonObject item = new JsonObject();
            item.addProperty("id", model.id());
            item.addProperty("object", "model");
            item.addProperty("created", created);
            item.addProperty("owned_by", "sparktune");
            item.addProperty("root", model.parent() == null ? model.id() : model.parent());
            if (model.parent() == null) {
                item.add("parent", JsonNull.INSTANCE);
            } else {
                item.addProperty("parent", model.parent());
            }
            if (model.generates()) {
                item.addProperty("max_model_len", model.contextLength());
            }
            data.add(item);
        }
        JsonObject out = new JsonObject();
        out.addProperty("object", "list");
        out.add("data", data);
        return out;
    }

    @Override
    public void close() {
        batchers.values().forEach(ContinuousBatcher::close);
        encoders.values().forEach(EncoderEndpoint::close);
    }
}
