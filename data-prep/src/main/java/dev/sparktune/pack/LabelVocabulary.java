package dev.sparktune.pack;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.sparktune.prep.PrepRows;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * The class labels of classification rows and their indexes: given in the options (that order), or every distinct
 * label of the input sorted by {@link String#compareTo}, so the same labels always get the same indexes. Written
 * beside the output in Hugging Face's {@code config.json} form ({@code id2label}, {@code label2id}).
 */
record LabelVocabulary(List<String> labels) {

    static final String FILE = "_labels.json";

    LabelVocabulary {
        labels = List.copyOf(labels);
    }

    /** The distinct non-null labels of the classification rows; a small distinct query, never the rows. */
    static LabelVocabulary discover(Dataset<Row> prepared) {
        List<String> labels = new ArrayList<>();
        for (Row row : prepared
                .filter(functions.col(PrepRows.FORMAT).equalTo(PrepRows.FORMAT_CLASSIFICATION)
                        .and(functions.col(PrepRows.LABEL).isNotNull()))
                .select(PrepRows.LABEL).distinct().collectAsList()) {
            labels.add(row.getString(0));
        }
        labels.sort(String::compareTo);
        return new LabelVocabulary(labels);
    }

    /** Label to index, in index order; a serialisable map for the executors. */
    LinkedHashMap<String, Long> index() {
        LinkedHashMap<String, Long> index = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.put(labels.get(i), (long) i);
        }
        return index;
    }

    String toJson() {
        JsonObject id2label = new JsonObject();
        JsonObject label2id = new JsonObject();
        for (int i = 0; i < labels.size(); i++) {
            id2label.addProperty(Integer.toString(i), labels.get(i));
            label2id.addProperty(labels.get(i), i);
        }
        JsonObject json = new JsonObject();
        json.add("id2label", id2label);
        json.add("label2id", label2id);
        return new GsonBuilder().setPrettyPrinting().create().toJson(json);
    }
}
