package dev.sparktune.pack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.Packing;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenize stage on {@code local-cluster[2,1,1024]}: two separate executor JVMs that cannot see the test's
 * tokenizer, so each loads its own from the broadcast tokenizer files; the packed output still unpacks to exactly
 * what the driver computes.
 */
@Tag("integration")
class TokenizeOnClusterTest {
    private static final int CUTOFF = 48;

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    Path dir;

    @Test
    void executorJvmsTokenizeWithTheBroadcastTokenizerAndPackedRowsUnpackToTheDriversSamples() throws Exception {
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, modelDir.resolve("tokenizer.json"));
        List<Row> rows = PackTestData.rows();
        PackOutcome outcome = TokenizeStage.run(spark.session(),
                spark.session().createDataFrame(rows, PrepRows.PREPARED).repartition(2),
                PackOptions.of(modelDir.toString(), CUTOFF, true, false, "chatml", dir.resolve("out").toString())
                        .withPartitions(2));
        assertFalse(outcome.reused());

        List<TokenizedRow> unpacked = new ArrayList<>();
        for (TokenizedRow row : PackTestData.read(spark.session(), dir.resolve("out").toString())) {
            if (row.label() == null) {
                unpacked.addAll(Packing.samples(row));
            }
        }
        try (Tokenizer tokenizer = Tokenizer.load(modelDir)) {
            assertEquals(PackTestData.multiset(PackTestData.expectedCausal(rows, tokenizer, CUTOFF, false)),
                    PackTestData.multiset(unpacked));
        }
        // rejected: the chat without a reply, the blank classification text, and every chat whose replies fall
        // past cutoff_len
        long chatsKept = unpacked.stream().filter(t -> t.task().equals("chat")).count();
        long chats = rows.stream().filter(r -> r.getString(1).equals("chat")).count();
        assertEquals(chats - chatsKept + 1, outcome.report().rowsRejected());
        assertEquals(rows.size(), outcome.report().rowsKept() + outcome.report().rowsRejected());
        assertEquals(outcome.report().rowsRejected(), outcome.result().rejected().count());
    }
}
