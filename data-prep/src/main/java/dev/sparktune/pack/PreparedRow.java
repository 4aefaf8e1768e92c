package dev.sparktune.pack;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.tokenize.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;

/** The fields of a {@link PrepRows#PREPARED} row that tokenizing reads. */
record PreparedRow(String id, String dataset, String format, String system, List<ChatMessage> messages,
                   String text, String label) {

    static PreparedRow of(Row row) {
        List<ChatMessage> messages = null;
        int at = row.fieldIndex(PrepRows.MESSAGES);
        if (!row.isNullAt(at)) {
            List<Row> turns = row.getList(at);
            messages = new ArrayList<>(turns.size());
            for (Row turn : turns) {
                String role = turn.getAs(PrepRows.ROLE);
                String content = turn.getAs(PrepRows.CONTENT);
                messages.add(new ChatMessage(role == null ? "" : role, content == null ? "" : content));
            }
        }
        return new PreparedRow(row.getAs(PrepRows.ID), row.getAs(PrepRows.DATASET), row.getAs(PrepRows.FORMAT),
                row.getAs(PrepRows.SYSTEM), messages, row.getAs(PrepRows.TEXT), row.getAs(PrepRows.LABEL));
    }

    /** The conversation a chat template renders: the system prompt (if any) first, then the turns. */
    List<ChatMessage> conversation() {
        List<ChatMessage> chat = new ArrayList<>();
        if (system != null && !system.isEmpty()) {
            chat.add(ChatMessage.system(system));
        }
        chat.addAll(messages);
        return chat;
    }
}
