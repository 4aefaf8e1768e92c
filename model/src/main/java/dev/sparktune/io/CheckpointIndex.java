package dev.sparktune.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * {@code model.safetensors.index.json}, Hugging Face's map from each tensor to the shard that
 * holds it: {@code {"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}}.
 *
 * @param totalSize the bytes of all tensors together (not of the files)
 * @param weightMap tensor name to shard file name, sorted by tensor name
 */
record CheckpointIndex(long totalSize, SortedMap<String, String> weightMap) {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    static CheckpointIndex read(Path file) {
        JsonElement root;
        try {
            root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e, e);
        } catch (JsonParseException e) {
            throw new CheckpointException(file, null, "not valid JSON: " + e.getMessage(), e);
        }
        JsonElement map = root.isJsonObject() ? root.getAsJsonObject().get("weight_map") : null;
        if (map == null || !map.isJsonObject()) {
            throw new CheckpointException(file, "has no \"weight_map\" object mapping tensor names to shard files");
        }
        SortedMap<String, String> weightMap = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            JsonElement shard = e.getValue();
            if (!(shard.isJsonPrimitive() && shard.getAsJsonPrimitive().isString()) || !isPlainFileName(shard.getAsString())) {
                throw new CheckpointException(file, e.getKey(), "weight_map must name a shard file in the same folder, got " + shard);
            }
            weightMap.put(e.getKey(), shard.getAsString());
        }
        return new CheckpointIndex(totalSize(root.getAsJsonObject()), weightMap);
    }

    void write(Path file) {
        JsonObject metadata = new JsonObject();
        metadata.addProperty("total_size", totalSize);
        JsonObject map = new JsonObject();
        weightMap.forEach(map::addProperty);
        JsonObject root = new JsonObject();
        root.add("metadata", metadata);
        root.add("weight_map", map);
        byte[] json = (GSON.toJson(root) + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, channel -> AtomicFile.writeFully(channel, ByteBuffer.wrap(json)));
    }

    /** {@code metadata.total_size}, or -1 when the index does not say. */
    private static long totalSize(JsonObject root) {
        JsonElement metadata = root.get("metadata");
        JsonElement size = metadata != null && metadata.isJsonObject() ? metadata.getAsJsonObject().get("total_size") : null;
        boolean isNumber = size != null && size.isJsonPrimitive() && size.getAsJsonPrimitive().isNumber();
        return isNumber ? size.getAsLong() : -1;
    }

    private static boolean isPlainFileName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && !name.contains("/") && !name.contains("\\");
    }
}
