package dev.sparktune.rows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import scala.jdk.javaapi.CollectionConverters;

/** Token-id arrays in and out of Spark rows: an {@code array<bigint>} field read as {@code long[]}, and back. */
public final class TokenArrays {
    private TokenArrays() {
    }

    /** The ids in field {@code column} of {@code row}; null when the field is null or {@code column} is negative. */
    public static long[] longs(Row row, int column) {
        if (column < 0 || row.isNullAt(column)) {
            return null;
        }
        List<Object> values = row.getList(column);
        long[] out = new long[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).longValue();
        }
        return out;
    }

    /** The ids in the field named {@code column}; null when the row has no such field or it is null. */
    public static long[] longs(Row row, String column) {
        if (row.schema() != null && !Arrays.asList(row.schema().fieldNames()).contains(column)) {
            return null;
        }
        return longs(row, row.fieldIndex(column));
    }

    /** {@code ids} as the value of an {@code array<bigint>} field of a Row built by hand (a Scala Seq). */
    public static Object seq(long[] ids) {
        List<Long> boxed = new ArrayList<>(ids.length);
        for (long id : ids) {
            boxed.add(id);
        }
        return CollectionConverters.asScala(boxed).toSeq();
    }
}
