package dev.sparktune.prep;

import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import scala.jdk.javaapi.CollectionConverters;

/** Prepared rows (schema {@link PrepRows#PREPARED}) for stage tests. */
public final class PreparedRowsForTests {
    private PreparedRowsForTests() {
    }

    public static Row text(String id, String text) {
        return RowFactory.create(id, "ds", PrepRows.FORMAT_TEXT, null, null, null, text, null, null, null);
    }

    public static Row classification(String id, String text, String label) {
        return RowFactory.create(id, "ds", PrepRows.FORMAT_CLASSIFICATION, null, null, null, text, label, null, null);
    }

    /** A conversation: {@code turns} alternate user and assistant, starting with user. */
    public static Row chat(String id, String system, String... turns) {
        List<Row> messages = new ArrayList<>();
        for (int i = 0; i < turns.length; i++) {
            messages.add(RowFactory.create(i % 2 == 0 ? PrepRows.ROLE_USER : PrepRows.ROLE_ASSISTANT, turns[i]));
        }
        return RowFactory.create(id, "ds", PrepRows.FORMAT_SHAREGPT, null, system,
                CollectionConverters.asScala(messages).toSeq(), null, null, null, null);
    }
}
