package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.ApertiumServer;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real APY server is killed while the augment stage runs: the stage still succeeds, rows translated before pass
 * as augmented (or unchanged), the rest pass through unaugmented and are counted as {@code translator_unavailable}.
 */
@Tag("integration")
class BackTranslationServerStopsMidStageTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);
    @RegisterExtension
    static final ApertiumServer apy = new ApertiumServer();

    private static final int STOP_AT = 10;

    @Test
    void aServerKilledMidStageLeavesTheRestUnaugmentedAndCounted(@TempDir Path dir) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < EnglishSentences.SENTENCES.size(); i++) {
            rows.add(PreparedRows.text(String.format("mid-%02d", i), PrepRows.SPLIT_TRAIN, EnglishSentences.SENTENCES.get(i)));
        }
        // one partition, read in order; the stage takes batchSize * concurrency = 2 rows per round of requests, so
        // rows 0..9 are translated before row 10 is read, and reading row 10 kills the server
        Dataset<Row> input = spark.session().createDataFrame(rows, PrepRows.PREPARED).coalesce(1)
                .map((MapFunction<Row, Row>) BackTranslationServerStopsMidStageTest::killServerAtRow10,
                        Encoders.row(PrepRows.PREPARED));
        BackTranslationOptions bt = BackTranslationOptions.apertium(apy.url(), dir.resolve("cache").toUri().toString())
                .withBatching(2, 1)
                .withRetries(1, Duration.ofMillis(50), Duration.ofSeconds(10));
        AugmentResult result = new AugmentStage(new AugmentOptions(3, 0, 0, 1.0, null, null, bt)).apply(input);

        AugmentCounts counts = result.counts();
        long translated = counts.augmented(AugmentMethod.BACK_TRANSLATION)
                + counts.unaugmented(AugmentMethod.BACK_TRANSLATION, "translation_unchanged");
        assertEquals(STOP_AT, translated, () -> "counts " + counts);
        assertEquals(rows.size() - STOP_AT, counts.unaugmented(AugmentMethod.BACK_TRANSLATION, "translator_unavailable"),
                () -> "counts " + counts);
        assertEquals(rows.size(), counts.inputRows());
        assertEquals(rows.size() + counts.augmented(AugmentMethod.BACK_TRANSLATION), result.result().kept().count());
        List<Row> copies = result.result().kept().filter("aug_method is not null").collectAsList();
        for (Row copy : copies) {
            int parent = Integer.parseInt(copy.getString(8).substring(4));
            assertEquals(true, parent < STOP_AT, "a copy of row " + parent + ", read after the server died");
        }
    }

    private static Row killServerAtRow10(Row row) throws IOException, InterruptedException {
        if (row.getString(0).equals(String.format("mid-%02d", STOP_AT))) {
            int port = apy.url().getPort();
            apy.stop();
            for (int i = 0; i < 100 && listening(port); i++) {
                Thread.sleep(50);
            }
        }
        return row;
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException refused) {
            return false;
        }
    }
}
