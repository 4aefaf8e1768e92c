package dev.sparktune.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.sparktune.io.CheckpointException;
import java.util.Collections;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Everything besides tensors that a resumed run needs to continue exactly where the saved one
 * stopped; stored as {@code trainer_state.json} in a checkpoint folder. Nothing random is saved:
 * every random stream of a run (data order, task draws, dropout masks) is a function of the seed
 * and its place in the run, so the step, epoch and position bring them all back. Older checkpoints
 * also hold an {@code rng_state} (always empty), which is ignored.
 *
 * @param globalStep          optimizer steps taken
 * @param epoch               the epoch in progress, from 0
 * @param epochPosition       draws of that epoch's {@link EpochPlan} already trained on
 * @param schedulerStep       steps the learning-rate schedule has taken
 * @param bestValidationLoss  lowest validation loss so far; empty before the first evaluation
 * @param patienceCounter     evaluations since the best one, for {@code early_stopping_patience}
 * @param rowsTrained         rows trained on so far by each task, over all ranks ({@code rows/<task>} in the
 *                            metrics); empty in checkpoints written before it was kept
 * @param metadata            free-form notes (model path, method, world size, ...)
 */
public record TrainerState(
        long globalStep,
        int epoch,
        long epochPosition,
        long schedulerStep,
        OptionalDouble bestValidationLoss,
        int patienceCounter,
        Map<String, Long> rowsTrained,
        Map<String, String> metadata) {

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    public TrainerState {
        if (globalStep < 0 || epoch < 0 || epochPosition < 0 || schedulerStep < 0 || patienceCounter < 0) {
            throw new IllegalArgumentException("steps, epoch, position and patience cannot be negative: global_step "
                    + globalStep + ", epoch " + epoch + ", epoch_position " + epochPosition + ", scheduler_step "
                    + schedulerStep + ", patience_counter " + patienceCounter);
        }
        if (bestValidationLoss.isPresent() && !Double.isFinite(bestValidationLoss.getAsDouble())) {
            throw new IllegalArgumentException("best validation loss must be finite, got " + bestValidationLoss.getAsDouble());
        }
        for (Map.Entry<String, Long> e : rowsTrained.entrySet()) {
            if (e.getValue() < 0) {
                throw new IllegalArgumentException("rows trained cannot be negative: task '" + e.getKey() + "' has "
                        + e.getValue());
            }
        }
        rowsTrained = Collections.unmodifiableSortedMap(new TreeMap<>(rowsTrained));
        metadata = Collections.unmodifiableSortedMap(new TreeMap<>(metadata));
    }

    String toJson() {
        JsonObject root = new JsonObject();
        root.addProperty("global_step", globalStep);
        root.addProperty("epoch", epoch);
        root.addProperty("epoch_position", epochPosition);
        root.addProperty("scheduler_step", schedulerStep);
        if (bestValidationLoss.isPresent()) {
            root.addProperty("best_validation_loss", bestValidationLoss.getAsDouble());
        } else {
            root.add("best_validation_loss", null);
        }
        root.addProperty("patience_counter", patienceCounter);
        JsonObject rows = new JsonObject();
        rowsTrained.forEach(rows::addProperty);
        root.add("rows_trained", rows);
        JsonObject meta = new JsonObject();
        metadata.forEach(meta::addProperty);
        root.add("metadata", meta);
        return GSON.toJson(root) + "\n";
    }

    /** Parses {@code json}, the content of {@code file}; every problem is reported against the file. */
    static TrainerState fromJson(String file, String json) {
        JsonObject root;
        try {
            JsonElement parsed = JsonParser.parseString(json);
            if (!parsed.isJsonObject()) {
                throw new CheckpointException(file, "must hold a JSON object, holds " + abbreviate(json));
            }
            root = parsed.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new CheckpointException(file, null, "is not valid JSON (" + e.getMessage() + "); the checkpoint "
                    + "is damaged, resume from an earlier one", e);
        }
        JsonElement best = field(file, root, "best_validation_loss");
        SortedMap<String, Long> rowsTrained = new TreeMap<>();
        JsonElement rows = root.get("rows_trained");
        if (rows != null) {
            if (!rows.isJsonObject()) {
                throw new CheckpointException(file, "\"rows_trained\" must be an object of whole numbers, got "
                        + abbreviate(rows.toString()));
            }
            for (Map.Entry<String, JsonElement> e : rows.getAsJsonObject().entrySet()) {
                rowsTrained.put(e.getKey(), whole(file, "rows_trained." + e.getKey(), e.getValue()));
            }
        }
        SortedMap<String, String> metadata = new TreeMap<>();
        JsonElement meta = field(file, root, "metadata");
        if (!meta.isJsonObject()) {
            throw new CheckpointException(file, "\"metadata\" must be an object of strings, got " + abbreviate(meta.toString()));
        }
        for (Map.Entry<String, JsonElement> e : meta.getAsJsonObject().entrySet()) {
            if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
                throw new CheckpointException(file, "\"metadata\"." + e.getKey() + " must be a string, got " + e.getValue());
            }
            metadata.put(e.getKey(), e.getValue().getAsString());
        }
        try {
            return new TrainerState(
                    whole(file, root, "global_step"),
                    Math.toIntExact(whole(file, root, "epoch")),
                    whole(file, root, "epoch_position"),
                    whole(file, root, "scheduler_step"),
                    best.isJsonNull() ? OptionalDouble.empty() : OptionalDouble.of(number(file, "best_validation_loss", best).doubleValue()),
                    Math.toIntExact(whole(file, root, "patience_counter")),
                    rowsTrained,
                    metadata);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CheckpointException(file, null, e.getMessage(), e);
        }
    }

    private static JsonElement field(String file, JsonObject root, String key) {
        JsonElement value = root.get(key);
        if (value == null) {
            throw new CheckpointException(file, "has no \"" + key + "\"; it holds " + root.keySet());
        }
        return value;
    }

    private static Number number(String file, String key, JsonElement value) {
        if (!value.isJsonPrimitive() || !value.getAsJsonPrimitive().isNumber()) {
            throw new CheckpointException(file, "\"" + key + "\" must be a number, got " + abbreviate(value.toString()));
        }
        return value.getAsNumber();
    }

    private static long whole(String file, JsonObject root, String key) {
        return whole(file, key, field(file, root, key));
    }

    private static long whole(String file, String key, JsonElement value) {
        Number n = number(file, key, value);
        try {
            return Long.parseLong(n.toString());
        } catch (NumberFormatException e) {
            throw new CheckpointException(file, "\"" + key + "\" must be a whole number, got " + n);
        }
    }

    private static String abbreviate(String text) {
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }
}
