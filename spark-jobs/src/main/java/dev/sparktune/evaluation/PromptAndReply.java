package dev.sparktune.evaluation;

import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Splits a prepared conversation (id, dataset, task, system, messages) at its last assistant reply: the turns
 * before it, after the system prompt if there is one, are the prompt; the reply is the reference. A conversation
 * with no assistant reply has nothing to compare with and gives no row.
 */
final class PromptAndReply implements FlatMapFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** The rows out: id, dataset, task, the prompt's turns (role, content) and the reference reply. */
    static final StructType SCHEMA = new StructType()
            .add(PrepRows.ID, DataTypes.StringType)
            .add(PrepRows.DATASET, DataTypes.StringType)
            .add(EvalJob.TASK, DataTypes.StringType)
            .add(EvalJob.PROMPT, DataTypes.createArrayType(PrepRows.TURN, false))
            .add(EvalJob.REFERENCE, DataTypes.StringType);

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
            prompt.add(new GenericRowWithSchema(new Object[] {"system", row.getString(3)}, PrepRows.TURN));
        }
        for (int i = 0; i < reply; i++) {
            prompt.add(new GenericRowWithSchema(new Object[] {turns.get(i).getAs(PrepRows.ROLE),
                turns.get(i).getAs(PrepRows.CONTENT)}, PrepRows.TURN));
        }
        String reference = turns.get(reply).getAs(PrepRows.CONTENT);
        // a Row's array field is a Scala Seq for Spark's row encoder
        Object turnsColumn = CollectionConverters.asScala(prompt).toSeq();
        return List.<Row>of(new GenericRowWithSchema(new Object[] {row.getString(0), row.getString(1),
            row.getString(2), turnsColumn, reference}, SCHEMA)).iterator();
    }
}
