package dev.sparktune.clean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.junit.jupiter.api.Test;

/**
 * Issue 19: the clean stage caught only RuntimeException, so a row that made a cleaning step overflow its stack
 * (the PII number pattern on a price list did) failed the task, and Spark the job. Now any failure short of the
 * JVM's own becomes that row's rejection.
 */
class CleanStageFailureTest {

    /** A cleaner whose steps fail on the rows named: a stack overflow and an out-of-memory error. */
    private static final class FailingCleaner extends RowCleaner {
        FailingCleaner() {
            super(CleanOptions.defaults());
        }

        @Override
        Outcome clean(Row in) {
            return switch (in.getString(0)) {
                case "deep" -> throw new StackOverflowError();
                case "huge" -> throw new OutOfMemoryError("Java heap space");
                default -> super.clean(in);
            };
        }
    }

    @Test
    void aRowWhoseCleaningOverflowsTheStackIsRejectedAndTheOthersAreCleaned() {
        List<Row> out = new ArrayList<>();
        new CleanStage.CleanPartition(new FailingCleaner())
                .call(List.of(row("a", "First   row."), row("deep", "Second row."), row("b", "Third row.")).iterator())
                .forEachRemaining(out::add);

        int reason = PrepRows.PREPARED.size();
        assertEquals(3, out.size());
        assertNull(out.get(0).get(reason));
        assertEquals("First row.", out.get(0).getString(PrepRows.PREPARED.fieldIndex(PrepRows.TEXT)));
        assertTrue(out.get(1).getString(reason).startsWith("cleaning failed: StackOverflowError"),
                out.get(1).getString(reason));
        assertTrue(out.get(1).getString(reason + 1).contains("Second row."), "the row as JSON");
        assertNull(out.get(2).get(reason));
    }

    @Test
    void theJvmsOwnErrorsStillFailTheTask() {
        var rows = new CleanStage.CleanPartition(new FailingCleaner()).call(List.of(row("huge", "x")).iterator());
        assertTrue(rows.hasNext());
        try {
            rows.next();
        } catch (OutOfMemoryError expected) {
            return;
        }
        throw new AssertionError("an OutOfMemoryError was turned into a rejected row");
    }

    private static Row row(String id, String text) {
        return new GenericRowWithSchema(new Object[] {id, "ds", PrepRows.FORMAT_TEXT, null, null, null, text, null,
                null, null}, PrepRows.PREPARED);
    }
}
