package dev.sparktune.augment;

import dev.sparktune.rows.PrepRows;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/** Prepared rows for augment tests, in the column order of {@link PrepRows#PREPARED}. */
final class PreparedRows {
    private PreparedRows() {
    }

    static Row classification(String id, String split, String text, String label) {
        return RowFactory.create(id, "ds", PrepRows.FORMAT_CLASSIFICATION, split, null, null, text, label, null, null);
    }

    static Row text(String id, String split, String text) {
        return RowFactory.create(id, "ds", PrepRows.FORMAT_TEXT, split, null, null, text, null, null, null);
    }

    static Row chat(String id, String split, String system, String user, String assistant) {
        List<Row> turns = List.of(RowFactory.create(PrepRows.ROLE_USER, user),
                RowFactory.create(PrepRows.ROLE_ASSISTANT, assistant));
        return RowFactory.create(id, "ds", PrepRows.FORMAT_SHAREGPT, split, system,
                scala.jdk.javaapi.CollectionConverters.asScala(turns).toSeq(), null, null, null, null);
    }
}
