package dev.sparktune.ingest;

import dev.sparktune.rows.PrepRows;
import java.io.Serializable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/** What became of one input record: a {@link PrepRows#PREPARED} row, or a {@link PrepRows#REJECTED} row. */
record Outcome(Row prepared, Row rejected) implements Serializable {
    /** Rejected records keep at most this much of their raw text. */
    static final int MAX_SAVED_CHARS = 64 * 1024;

    static Outcome kept(Row prepared) {
        return new Outcome(prepared, null);
    }

    static Outcome rejected(String reason, SourceFile file, String record) {
        String saved = record == null || record.length() <= MAX_SAVED_CHARS ? record : record.substring(0, MAX_SAVED_CHARS);
        return new Outcome(null, RowFactory.create(Ingest.STAGE, reason, file.dataset(), file.path(), saved));
    }

    boolean isKept() {
        return prepared != null;
    }
}
