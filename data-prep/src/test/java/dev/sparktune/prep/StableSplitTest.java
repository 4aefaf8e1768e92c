package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.SparkClusterExtension;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class StableSplitTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @Test
    void validationFractionIsNearValSizeAndMatchesAnIndependentHash() throws Exception {
        int n = 10_000;
        double valSize = 0.1;
        Map<String, String> split = splits(StableSplit.apply(rows(0, n, 4), new StableSplit.Options(valSize)));
        assertEquals(n, split.size());
        long validation = split.values().stream().filter(PrepRows.SPLIT_VALIDATION::equals).count();
        // a fair hash makes the count Binomial(n, valSize): 4 standard deviations (30 rows here) leave a chance of
        // about 6e-5 that a correct implementation lands outside
        double sd = Math.sqrt(n * valSize * (1 - valSize));
        assertTrue(Math.abs(validation - n * valSize) <= 4 * sd, validation + " validation rows of " + n);
        for (Map.Entry<String, String> e : split.entrySet()) {
            assertEquals(referenceSplit(e.getKey(), valSize), e.getValue(), e.getKey());
        }
    }

    @Test
    void aRowKeepsItsSplitOnRerunsWithOtherPartitioningAndWhenRowsAreAdded() {
        StableSplit.Options options = new StableSplit.Options(0.2);
        Map<String, String> first = splits(StableSplit.apply(rows(0, 3000, 3), options));
        Map<String, String> rerun = splits(StableSplit.apply(rows(0, 3000, 7), options));
        assertEquals(first, rerun);
        Map<String, String> grown = splits(StableSplit.apply(rows(0, 3000, 2).union(rows(3000, 6000, 5)), options));
        assertEquals(6000, grown.size());
        for (Map.Entry<String, String> e : first.entrySet()) {
            assertEquals(e.getValue(), grown.get(e.getKey()), e.getKey());
        }
        // a larger val_size only moves rows from train to validation
        Map<String, String> larger = splits(StableSplit.apply(rows(0, 3000, 3), new StableSplit.Options(0.3)));
        first.forEach((id, s) -> {
            if (s.equals(PrepRows.SPLIT_VALIDATION)) {
                assertEquals(PrepRows.SPLIT_VALIDATION, larger.get(id), id);
            }
        });
    }

    @Test
    void givenSplitsAreKeptAndNothingIsRejected() {
        List<Row> in = List.of(
                RowFactory.create("a", "ds", "text", PrepRows.SPLIT_VALIDATION, null, null, "x", null, null, null),
                RowFactory.create("b", "ds", "text", null, null, null, "y", null, null, null));
        StageResult result = StableSplit.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                new StableSplit.Options(0.0));
        Map<String, String> split = splits(result);
        assertEquals(PrepRows.SPLIT_VALIDATION, split.get("a"));
        assertEquals(PrepRows.SPLIT_TRAIN, split.get("b"));
        assertEquals(0L, result.rejected().count());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new StableSplit.Options(1.0)).getMessage()
                .contains("val_size"));
    }

    /** u = first 52 bits of SHA-256(id) / 2^52, computed here with the JDK alone. */
    private static String referenceSplit(String id, double valSize) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
        long bits = 0;
        for (int i = 0; i < 7; i++) {
            bits = (bits << 8) | (d[i] & 0xFF);
        }
        double u = (bits >>> 4) / Math.pow(2, 52);
        return u < valSize ? PrepRows.SPLIT_VALIDATION : PrepRows.SPLIT_TRAIN;
    }

    @Test
    void everyRowOfAnEvaluationOnlyDatasetIsValidation() {
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            in.add(RowFactory.create("train-" + i, "reviews", "text", null, null, null, "t" + i, null, null, null));
            in.add(RowFactory.create("eval-" + i, "held_out", "text", null, null, null, "e" + i, null, null, null));
        }
        Map<String, String> split = splits(StableSplit.apply(spark.session().createDataFrame(in, PrepRows.PREPARED),
                new StableSplit.Options(0.25, List.of("held_out"))));
        split.forEach((id, s) -> {
            if (id.startsWith("eval-")) {
                assertEquals(PrepRows.SPLIT_VALIDATION, s, id);
            }
        });
        // the other dataset is still split by val_size, as without eval_dataset
        long validation = split.entrySet().stream().filter(e -> e.getKey().startsWith("train-")
                && e.getValue().equals(PrepRows.SPLIT_VALIDATION)).count();
        assertTrue(validation > 20 && validation < 80, validation + " of 200");
    }

    private static Dataset<Row> rows(int from, int to, int partitions) {
        List<Row> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(PreparedRowsForTests.text("doc-" + i, "text " + i));
        }
        return spark.session().createDataFrame(out, PrepRows.PREPARED).repartition(partitions);
    }

    private static Map<String, String> splits(StageResult result) {
        Map<String, String> out = new HashMap<>();
        for (Row r : result.kept().select(PrepRows.ID, PrepRows.SPLIT).collectAsList()) {
            out.put(r.getString(0), r.getString(1));
        }
        return out;
    }
}
