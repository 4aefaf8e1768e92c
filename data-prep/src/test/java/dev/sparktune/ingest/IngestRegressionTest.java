package dev.sparktune.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.SparkClusterExtension;
import java.nio.file.Files;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19's ingest findings, each through {@link Ingest#read} on local Spark: a CSV quote left open swallowing
 * later records into a kept row, one never closed at all, an e-mail nested deep enough to overflow the MIME
 * parser's stack (which failed the task, and so the job), and a JSON line nested past Jackson's limit.
 */
@Tag("integration")
class IngestRegressionTest {
    private static final long MAX_RECORD_BYTES = 1024 * 1024;

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(1);

    @TempDir
    static java.nio.file.Path dir;

    @Test
    void aQuoteLeftOpenThatSwallowsARecordIsRejectedNotKept() throws Exception {
        Files.writeString(dir.resolve("swallowed.csv"), """
                text,label
                first,a
                "Broken quote start,negative
                Another review,neutral
                "Third",positive
                last,e
                """);
        StageResult result = read("swallowed.csv", "classification");
        assertEquals(List.of("first", "last"), texts(result.kept().collectAsList()));
        List<Row> rejected = result.rejected().collectAsList();
        assertEquals(1, rejected.size(), rejected.toString());
        String reason = rejected.get(0).getAs(PrepRows.REASON);
        assertTrue(reason.startsWith("record 2 (lines 3-5): a quoted field runs over 2 line breaks, and line 4 inside"
                + " it looks like a record of its own"), reason);
        assertTrue(((String) rejected.get(0).getAs(PrepRows.RECORD)).contains("Another review,neutral"));
    }

    @Test
    void aQuoteNeverClosedIsRejectedWithTheLinesItSwallowed() throws Exception {
        Files.writeString(dir.resolve("unclosed.csv"), """
                text,label
                first,a
                "Broken quote start,negative
                Another review,neutral
                last,e
                """);
        StageResult result = read("unclosed.csv", "classification");
        assertEquals(List.of("first"), texts(result.kept().collectAsList()));
        List<Row> rejected = result.rejected().collectAsList();
        assertEquals(1, rejected.size(), rejected.toString());
        String reason = rejected.get(0).getAs(PrepRows.REASON);
        assertTrue(reason.startsWith("record 2 (lines 3-5): a quote opened here is never closed"), reason);
    }

    @Test
    void anEmailNestedTenThousandDeepIsRejectedNotAFailedJob() throws Exception {
        Files.createDirectories(dir.resolve("mail"));
        Files.writeString(dir.resolve("mail/deep.eml"), AdversarialText.nestedMime(10_000));
        Files.writeString(dir.resolve("mail/ok.eml"), AdversarialText.nestedMime(3));
        StageResult result = read("mail", "text");
        assertEquals(List.of("deep\n\nhello"), texts(result.kept().collectAsList()));
        List<Row> rejected = result.rejected().collectAsList();
        assertEquals(1, rejected.size(), rejected.toString());
        assertTrue(((String) rejected.get(0).getAs(PrepRows.REASON)).startsWith("MIME parts nested more than 64 deep"),
                rejected.toString());
    }

    /**
     * Found by PrepJobAdversarialRecordsTest: Jackson refuses JSON nested over 1,000 deep with an exception that has
     * no location, and building the reason from its location threw, failing the task and the job.
     */
    @Test
    void aJsonLineNestedDeeperThanJacksonAllowsIsRejectedNotAFailedJob() throws Exception {
        Files.writeString(dir.resolve("deep.jsonl"), "{\"text\": \"deep\", \"x\": " + "[".repeat(5000)
                + "]".repeat(5000) + "}\n{\"text\": \"after\"}\n");
        StageResult result = read("deep.jsonl", "text");
        assertEquals(List.of("after"), texts(result.kept().collectAsList()));
        List<Row> rejected = result.rejected().collectAsList();
        assertEquals(1, rejected.size(), rejected.toString());
        assertTrue(((String) rejected.get(0).getAs(PrepRows.REASON)).startsWith("line 1 is not valid JSON: Document"
                + " nesting depth (1001) exceeds the maximum allowed (1000"), rejected.toString());
    }

    private static StageResult read(String fileName, String formatting) throws Exception {
        String name = fileName.replaceAll("[^a-z]", "");
        Files.writeString(dir.resolve(name + ".yaml"), """
                %s:
                  file_name: %s
                  formatting: %s
                  %s
                """.formatted(name, fileName, formatting, fileName.equals("mail") ? "file_format: email" : ""));
        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(dir.toUri());
        DatasetRegistry registry = DatasetRegistry.load(new org.apache.hadoop.fs.Path(root, name + ".yaml"),
                spark.session().sparkContext().hadoopConfiguration());
        return Ingest.read(spark.session(), registry, List.of(name), root, MAX_RECORD_BYTES);
    }

    private static List<String> texts(List<Row> rows) {
        return rows.stream().map(r -> (String) r.getAs(PrepRows.TEXT)).sorted().collect(Collectors.toList());
    }
}
