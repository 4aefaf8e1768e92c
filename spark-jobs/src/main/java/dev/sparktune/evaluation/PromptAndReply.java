package dev.sparktune.evaluation;

import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Splits a prepared conversation (id, dataset, task, system, messages) at its last assistant reply: the turns
 * before it, after the system prompt if there is one, are the prompt; the reply is the reference. A conversation
 * with no assistant reply has nothing to compare with and gives no row.
 */
final class PromptAndReply implements FlatMapFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<Row> call(Row row) {
        List<Row> turns = row.isNullAt(4) ? List.of() : row.getList(4);
        int reply = -1;
        for (int i = 0; i < turns.size(); i++) {
            if (PrepRows.ROLE_ASSISTANT.equals(turns.get(i).getAs(PrepRows.ROLE))) {
                reply = i;
            }
        }
        if (reply < 0) {
            return List.<Row>of().iterator();
        }
        List<Row> prompt = new ArrayList<>();
        if (!row.isNullAt(3) && !row.getString(3).isEmpty()) {
            prompt.add(RowFactory.create("system", row.getString(3)));
        }
        for (int i = 0; i < reply; i++) {
            prompt.add(RowFactory.create(turns.get(i).getAs(PrepRows.ROLE), turns.get(i).getAs(PrepRows.CONTENT)));
        }
        String reference = turns.get(reply).getAs(PrepRows.CONTENT);
        return List.of(RowFactory.create(row.getString(0), row.getString(1), row.getString(2), prompt, reference))
                .iterator();
    }
}
