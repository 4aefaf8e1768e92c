package dev.sparktune.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparktune.rows.PrepRows;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Turns one structured record (a JSON object; CSV and Parquet rows are read as one) into a row of
 * {@link PrepRows#PREPARED} following the dataset's formatting and column names, or says what is wrong with it.
 * Conversations follow LLaMA-Factory: alpaca's history pairs come first, then instruction and input (joined by a
 * newline) as the user turn and output as the assistant turn; sharegpt turns must alternate user / assistant,
 * starting with the user, optionally after one system turn.
 */
final class RecordConverter implements Serializable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DatasetSpec spec;

    RecordConverter(DatasetSpec spec) {
        this.spec = spec;
    }

    Row convert(JsonNode record, String id) throws RecordProblem {
        if (!record.isObject()) {
            throw new RecordProblem("expected a JSON object with the dataset's columns, got " + describe(record));
        }
        return switch (spec.formatting()) {
            case PrepRows.FORMAT_ALPACA -> alpaca(record, id);
            case PrepRows.FORMAT_SHAREGPT -> sharegpt(record, id);
            case PrepRows.FORMAT_CLASSIFICATION -> row(id, null, null,
                    required(record, "text"), spec.label() != null ? spec.label() : label(record));
            default -> row(id, null, null, required(record, "text"), null);
        };
    }

    /** A row for a whole-file text (plain-text or e-mail files): {@code text}, and the fixed label if any. */
    Row text(String text, String id) {
        return row(id, null, null, text, spec.formatting().equals(PrepRows.FORMAT_CLASSIFICATION) ? spec.label() : null);
    }

    private Row alpaca(JsonNode record, String id) throws RecordProblem {
        String prompt = required(record, "prompt");
        String query = optional(record, "query");
        String response = required(record, "response");
        String system = optional(record, "system");
        List<Row> turns = new ArrayList<>();
        String historyColumn = spec.column("history");
        JsonNode history = historyColumn == null ? null : arrayValue(record, historyColumn);
        if (history != null) {
            for (int i = 0; i < history.size(); i++) {
                JsonNode pair = history.get(i);
                if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isTextual()) {
                    throw new RecordProblem("column '" + historyColumn + "' item " + i
                            + " should be a [user, assistant] pair of strings, got " + describe(pair));
                }
                turns.add(RowFactory.create(PrepRows.ROLE_USER, pair.get(0).asText()));
                turns.add(RowFactory.create(PrepRows.ROLE_ASSISTANT, pair.get(1).asText()));
            }
        }
        String user = query == null || query.isEmpty() ? prompt : prompt + "\n" + query;
        turns.add(RowFactory.create(PrepRows.ROLE_USER, user));
        turns.add(RowFactory.create(PrepRows.ROLE_ASSISTANT, response));
        return row(id, system, turns, null, null);
    }

    private Row sharegpt(JsonNode record, String id) throws RecordProblem {
        String column = spec.column("messages");
        JsonNode messages = arrayValue(record, column);
        if (messages == null) {
            throw new RecordProblem("no column '" + column + "' (the conversation); name yours in columns.messages"
                    + " in dataset_info.yaml" + present(record));
        }
        String roleTag = spec.tag("role_tag");
        String contentTag = spec.tag("content_tag");
        String system = optional(record, "system");
        List<Row> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode turn = messages.get(i);
            JsonNode role = turn.get(roleTag);
            JsonNode content = turn.get(contentTag);
            if (!turn.isObject() || role == null || !role.isTextual() || content == null || !content.isTextual()) {
                throw new RecordProblem("column '" + column + "' turn " + i + " should be an object with string '"
                        + roleTag + "' and '" + contentTag + "' (tags.role_tag / tags.content_tag), got " + describe(turn));
            }
            String r = role.asText();
            if (i == 0 && r.equals(spec.tag("system_tag"))) {
                if (system == null) {
                    system = content.asText();
                }
                continue;
            }
            boolean userTurn = turns.size() % 2 == 0;
            String expected = userTurn ? spec.tag("user_tag") : spec.tag("assistant_tag");
            if (!r.equals(expected)) {
                throw new RecordProblem("column '" + column + "' turn " + i + " has role '" + r + "', expected '"
                        + expected + "': turns alternate " + spec.tag("user_tag") + " / " + spec.tag("assistant_tag")
                        + ", starting with " + spec.tag("user_tag"));
            }
            turns.add(RowFactory.create(userTurn ? PrepRows.ROLE_USER : PrepRows.ROLE_ASSISTANT, content.asText()));
        }
        if (turns.isEmpty() || turns.size() % 2 != 0) {
            throw new RecordProblem("column '" + column + "' has " + turns.size()
                    + " user/assistant turns; a conversation needs at least one pair and must end with "
                    + spec.tag("assistant_tag"));
        }
        return row(id, system, turns, null, null);
    }

    private String label(JsonNode record) throws RecordProblem {
        String column = spec.column("label");
        JsonNode v = record.get(column);
        if (v == null || v.isNull()) {
            throw new RecordProblem("no value for column '" + column + "' (the label); name yours in columns.label"
                    + " in dataset_info.yaml" + present(record));
        }
        if (v.isTextual() && !v.asText().isBlank()) {
            return v.asText();
        }
        if (v.isIntegralNumber()) {
            return v.bigIntegerValue().toString();
        }
        throw new RecordProblem("column '" + column + "' should hold a class name or a whole number, got " + describe(v));
    }

    private String required(JsonNode record, String role) throws RecordProblem {
        String column = spec.column(role);
        JsonNode v = record.get(column);
        if (v == null || v.isNull()) {
            throw new RecordProblem("no value for column '" + column + "' (" + spec.formatting() + " " + role
                    + "); name yours in columns." + role + " in dataset_info.yaml" + present(record));
        }
        if (!v.isTextual()) {
            throw new RecordProblem("column '" + column + "' should be a string, got " + describe(v));
        }
        if (v.asText().isBlank()) {
            throw new RecordProblem("column '" + column + "' (" + spec.formatting() + " " + role + ") is empty");
        }
        return v.asText();
    }

    private String optional(JsonNode record, String role) throws RecordProblem {
        String column = spec.column(role);
        JsonNode v = column == null ? null : record.get(column);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new RecordProblem("column '" + column + "' should be a string, got " + describe(v));
        }
        return v.asText();
    }

    /** An array column; CSV cells hold arrays as JSON text. */
    private static JsonNode arrayValue(JsonNode record, String column) throws RecordProblem {
        JsonNode v = record.get(column);
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isEmpty())) {
            return null;
        }
        if (v.isTextual()) {
            try {
                v = JSON.readTree(v.asText());
            } catch (JsonProcessingException e) {
                throw new RecordProblem("column '" + column + "' should be a JSON array, its text does not parse: "
                        + e.getOriginalMessage());
            }
        }
        if (!v.isArray()) {
            throw new RecordProblem("column '" + column + "' should be an array, got " + describe(v));
        }
        return v;
    }

    private Row row(String id, String system, List<Row> messages, String text, String label) {
        // Spark's Row encoder takes arrays as Scala sequences
        Object turns = messages == null ? null : CollectionConverters.asScala(messages).toSeq();
        return RowFactory.create(id, spec.name(), spec.formatting(), null, system, turns, text, label, null, null);
    }

    private static String present(JsonNode record) {
        List<String> names = new ArrayList<>();
        record.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? " (the record has no columns)" : " (the record has " + String.join(", ", names) + ")";
    }

    static String describe(JsonNode v) {
        String kind = switch (v.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NUMBER -> "a number";
            case BOOLEAN -> "true/false";
            case NULL, MISSING -> "null";
            default -> "a string";
        };
        String text = v.toString();
        return kind + " " + (text.length() > 60 ? text.substring(0, 60) + "..." : text);
    }
}
