package dev.sparktune.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The class names of one classification task, index order: the one labels contract of prep, training, export and
 * scoring. It sits beside a task's tokenized Parquet as {@value #NAME}, in the form Hugging Face's {@code config.json}
 * uses ({@code id2label} with string keys, {@code label2id}), and is copied into an exported classifier's
 * {@code config.json} with {@code num_labels}, so {@code AutoModelForSequenceClassification} and our own scorer
 * report label names.
 */
public record LabelsFile(List<String> labels) {
    /** Beside a task's tokenized rows; the leading {@code _} keeps Spark's and the trainer's listings off it. */
    public static final String NAME = "_labels.json";

    public LabelsFile {
        labels = List.copyOf(labels);
        if (labels.size() != labels.stream().distinct().count()) {
            throw new IllegalArgumentException("labels must be distinct, got " + labels);
        }
    }

    /** Classes known only by index: {@code LABEL_0 .. LABEL_<n-1>}, as Hugging Face names them by default. */
    public static LabelsFile numbered(int count) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            names.add("LABEL_" + i);
        }
        return new LabelsFile(names);
    }

    public int size() {
        return labels.size();
    }

    /** Label name to index, in index order. */
    public LinkedHashMap<String, Long> index() {
        LinkedHashMap<String, Long> index = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.put(labels.get(i), (long) i);
        }
        return index;
    }

    /** {@code id2label}, {@code label2id} and {@code num_labels} added to (or replacing those of) a config.json. */
    public JsonObject addTo(JsonObject config) {
        JsonObject json = config.deepCopy();
        JsonObject id2label = new JsonObject();
        JsonObject label2id = new JsonObject();
        for (int i = 0; i < labels.size(); i++) {
            id2label.addProperty(Integer.toString(i), labels.get(i));
            label2id.addProperty(labels.get(i), i);
        }
        json.add("id2label", id2label);
        json.add("label2id", label2id);
        json.addProperty("num_labels", labels.size());
        return json;
    }

    public String toJson() {
        JsonObject json = addTo(new JsonObject());
        json.remove("num_labels");
        return new GsonBuilder().setPrettyPrinting().create().toJson(json);
    }

    /**
     * The labels of a labels file or a config.json: {@code id2label} read by index. Empty when the JSON has no
     * {@code id2label}; an error naming {@code source} when its keys are not the indexes 0..n-1.
     */
    public static Optional<LabelsFile> fromJson(String json, String source) {
        JsonElement parsed = JsonParser.parseString(json);
        if (!parsed.isJsonObject() || !parsed.getAsJsonObject().has("id2label")) {
            return Optional.empty();
        }
        Map<Integer, String> byIndex = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : parsed.getAsJsonObject().getAsJsonObject("id2label").entrySet()) {
            try {
                byIndex.put(Integer.parseInt(e.getKey()), e.getValue().getAsString());
            } catch (NumberFormatException notAnIndex) {
                throw new IllegalArgumentException(source + ": id2label keys are class indexes, got '" + e.getKey() + "'");
            }
        }
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < byIndex.size(); i++) {
            String name = byIndex.get(i);
            if (name == null) {
                throw new IllegalArgumentException(source + ": id2label must number its classes 0.." + (byIndex.size() - 1)
                        + ", got " + byIndex.keySet());
            }
            labels.add(name);
        }
        return Optional.of(new LabelsFile(labels));
    }

    /** The labels file in {@code folder} (any Hadoop file system), when there is one. */
    public static Optional<LabelsFile> read(Configuration conf, String folder) {
        Path file = new Path(folder, NAME);
        try {
            FileSystem fs = file.getFileSystem(conf);
            if (!fs.exists(file)) {
                return Optional.empty();
            }
            return fromJson(HadoopFiles.readString(fs, file), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e, e);
        }
    }

    /** Writes {@value #NAME} into {@code folder} (any Hadoop file system). */
    public void write(Configuration conf, String folder) {
        Path file = new Path(folder, NAME);
        try {
            HadoopFiles.writeDurably(file.getFileSystem(conf), file, toJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e, e);
        }
    }
}
