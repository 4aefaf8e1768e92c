package dev.sparktune.prep;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one prep run did, written as {@code _report.json} beside the output: the datasets, the partition, every
 * stage's counts ({@code in = out + rejected}; augmentation adds rows, its {@code out} is larger), the rows
 * written and rejected in all, the prepared rows per split ({@code train}, {@code validation}, {@code test}; the
 * test rows are in {@code _test/}), the tokenize stage's token-length histogram (bucket upper bound to samples,
 * all splits) and its tokenized rows per split ({@code train}: in {@code tokenized_path}, what the trainer reads;
 * {@code validation}: in {@code tokenized_path/_validation}; {@code test}: in {@code tokenized_path/_test}), the
 * augment stage's counts ({@code augmented} and {@code unaugmented} by method and reason), and the leakage check
 * ({@code test_rows}, {@code train_rows}, and the test rows with an {@code exact} or {@code near} duplicate in
 * training; {@code dev.sparktune.dedup.SplitLeakage}); each null when its stage did not run (the leakage check runs
 * when there are test rows). {@code rows} and
 * {@code rejected} count prepared rows written and rejected rows of every stage. Nothing in it depends on the time
 * or the machine, so a rerun over the same inputs writes the same bytes.
 */
public record PrepReport(
        List<String> datasets,
        String partition,
        List<StageCounts> stages,
        long rows,
        long rejected,
        Map<String, Long> splits,
        Map<String, Long> tokenLengthHistogram,
        Map<String, Long> tokenizedRows,
        Map<String, Object> augmentation,
        Map<String, Object> leakage) {
    /** The report's file name in the prep output folder. */
    public static final String FILE = "_report.json";

    public String toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("datasets", datasets);
        json.put("partition", partition);
        json.put("stages", stages.stream().map(s -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", s.stage());
            m.put("in", s.in());
            m.put("out", s.out());
            m.put("rejected", s.rejected());
            return m;
        }).toList());
        json.put("rows", rows);
        json.put("rejected", rejected);
        json.put("splits", splits);
        json.put("token_length_histogram", tokenLengthHistogram);
        json.put("tokenized_rows", tokenizedRows);
        json.put("augmentation", augmentation);
        json.put("leakage", leakage);
        return new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create().toJson(json) + "\n";
    }

    /** The report {@link #toJson} wrote, read back; a field the JSON lacks comes back null (0 for the counts). */
    public static PrepReport fromJson(String text) {
        JsonObject o = JsonParser.parseString(text).getAsJsonObject();
        List<StageCounts> stages = new ArrayList<>();
        if (present(o, "stages")) {
            for (JsonElement e : o.getAsJsonArray("stages")) {
                JsonObject s = e.getAsJsonObject();
                stages.add(new StageCounts(s.get("stage").getAsString(), s.get("in").getAsLong(),
                        s.get("out").getAsLong(), s.get("rejected").getAsLong()));
            }
        }
        Gson gson = new Gson();
        return new PrepReport(
                present(o, "datasets") ? gson.fromJson(o.get("datasets"), new TypeToken<List<String>>() { }.getType())
                        : null,
                present(o, "partition") ? o.get("partition").getAsString() : null,
                stages,
                present(o, "rows") ? o.get("rows").getAsLong() : 0,
                present(o, "rejected") ? o.get("rejected").getAsLong() : 0,
                present(o, "splits") ? gson.fromJson(o.get("splits"),
                        new TypeToken<LinkedHashMap<String, Long>>() { }.getType()) : null,
                present(o, "token_length_histogram") ? gson.fromJson(o.get("token_length_histogram"),
                        new TypeToken<LinkedHashMap<String, Long>>() { }.getType()) : null,
                present(o, "tokenized_rows") ? gson.fromJson(o.get("tokenized_rows"),
                        new TypeToken<LinkedHashMap<String, Long>>() { }.getType()) : null,
                present(o, "augmentation") ? gson.fromJson(o.get("augmentation"),
                        new TypeToken<LinkedHashMap<String, Object>>() { }.getType()) : null,
                present(o, "leakage") ? gson.fromJson(o.get("leakage"),
                        new TypeToken<LinkedHashMap<String, Object>>() { }.getType()) : null);
    }

    private static boolean present(JsonObject o, String key) {
        return o.has(key) && !o.get(key).isJsonNull();
    }
}
