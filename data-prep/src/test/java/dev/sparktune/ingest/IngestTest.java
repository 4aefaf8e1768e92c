package dev.sparktune.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.StageResult;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every reader, and the bad-input suite: a dataset folder the test builds with good records next to malformed
 * JSON, wrong column types, missing columns, binary garbage, empty files, broken MIME and huge rows. Every record
 * must come out as exactly one prepared or rejected row; the expected counts are written down per file below.
 */
@Tag("integration")
class IngestTest {
    private static final long MAX_RECORD_BYTES = 64 * 1024;

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @TempDir
    static java.nio.file.Path dir;

    private static List<Row> kept;
    private static List<Row> rejected;

    @BeforeAll
    static void ingestTheSuite() throws Exception {
        SparkSession session = spark.session();
        Random random = new Random(42);

        // alpaca, JSONL: 2 good, a blank line (not a record), 5 bad
        ByteArrayOutputStream jsonl = new ByteArrayOutputStream();
        jsonl.writeBytes("""
                {"instruction": "Add", "input": "2 and 3", "output": "5"}
                {"instruction": "And 4?", "input": "", "output": "9", "system": "You add.", "history": [["Add 2 and 3", "5"]]}

                {"instruction": "x", "output": }
                {"instruction": "x", "output": 5}
                {"instruction": "x"}
                """.getBytes(StandardCharsets.UTF_8));
        byte[] garbage = new byte[300];
        random.nextBytes(garbage);
        for (int i = 0; i < garbage.length; i++) {
            garbage[i] = garbage[i] == '\n' ? (byte) 0xff : garbage[i];
        }
        jsonl.writeBytes(garbage);
        jsonl.write('\n');
        jsonl.writeBytes(("{\"instruction\": \"" + "long ".repeat(20_000) + "\", \"output\": \"y\"}\n").getBytes(StandardCharsets.UTF_8));
        Files.write(dir.resolve("alpaca.jsonl"), jsonl.toByteArray());

        // sharegpt, JSON arrays: a.json 2 good + 1 turn out of order; b.json 1 good then cut off; c.json empty
        Files.createDirectories(dir.resolve("chat"));
        Files.writeString(dir.resolve("chat/a.json"), """
                [
                  {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]},
                  {"conversations": [{"from": "gpt", "value": "I start"}, {"from": "human", "value": "No"}]},
                  {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Why?"},
                                     {"from": "gpt", "value": "Because."}, {"from": "human", "value": "Ok"},
                                     {"from": "gpt", "value": "Yes."}]}
                ]
                """);
        Files.writeString(dir.resolve("chat/b.json"), """
                [{"conversations": [{"from": "human", "value": "One"}, {"from": "gpt", "value": "Two"}]},
                 {"conversations": [{"from": "human", "val
                """);
        Files.writeString(dir.resolve("chat/c.json"), "");

        // classification, CSV: 2 good (one quoted over two lines), one short record, one empty text
        Files.writeString(dir.resolve("reviews.csv"), """
                text,label
                Great phone,positive
                "Broke after a day, and
                support never answered",negative
                only one field
                ,neutral
                """);

        // classification, Parquet: 2 good + 1 null text; 2 rows whose text is a number; 1 file of garbage
        StructType good = new StructType().add("text", DataTypes.StringType).add("label", DataTypes.LongType);
        session.createDataFrame(List.of(RowFactory.create("fine", 1L), RowFactory.create(null, 0L),
                RowFactory.create("bad", 0L)), good).coalesce(1).write().parquet(dir.resolve("scores/good").toString());
        StructType typed = new StructType().add("text", DataTypes.IntegerType).add("label", DataTypes.StringType);
        session.createDataFrame(List.of(RowFactory.create(7, "x"), RowFactory.create(8, "y")), typed)
                .coalesce(1).write().parquet(dir.resolve("scores/typed").toString());
        byte[] notParquet = new byte[500];
        random.nextBytes(notParquet);
        Files.write(dir.resolve("scores/zz-garbage.parquet"), notParquet);

        // text, plain-text folder: 2 good (one in a subfolder), one empty, one binary
        Files.createDirectories(dir.resolve("notes/sub"));
        Files.writeString(dir.resolve("notes/a.txt"), "Spark runs on the JVM.\n");
        Files.writeString(dir.resolve("notes/sub/d.txt"), "Parquet is columnar.\n");
        Files.writeString(dir.resolve("notes/b.txt"), "");
        Files.write(dir.resolve("notes/c.txt"), notParquet);

        // classification with a fixed label, e-mail folder: 3 real messages, 1 real broken one, garbage, empty, huge
        Files.createDirectories(dir.resolve("mail"));
        for (String m : List.of("easy-ham-1/00063.0acbc484a73f0e0b727e06c100d8df7b.txt",
                "spam-1/00087.f09438ca6392721e63696f4f753effbb.txt", "spam-2/00002.9438920e9a55591b18e60d1ed37d992b.txt",
                "spam-1/00467.5b733c506b7165424a0d4a298e67970f.txt")) {
            Files.write(dir.resolve("mail").resolve(m.replace('/', '-')), SpamAssassinCorpus.message(m));
        }
        Files.write(dir.resolve("mail/garbage.eml"), garbage);
        Files.writeString(dir.resolve("mail/empty.eml"), "");
        Files.writeString(dir.resolve("mail/huge.eml"), "Subject: big\n\n" + "x".repeat(100_000));

        Files.writeString(dir.resolve("dataset_info.yaml"), """
                alpaca_demo:
                  file_name: alpaca.jsonl
                  columns: {system: system, history: history}
                chat:
                  file_name: chat
                  formatting: sharegpt
                reviews:
                  file_name: reviews.csv
                  formatting: classification
                scores:
                  file_name: scores
                  formatting: classification
                notes:
                  file_name: notes
                  formatting: text
                mail:
                  file_name: mail
                  file_format: email
                  formatting: classification
                  label: spam
                """);

        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(dir.toUri());
        DatasetRegistry registry = DatasetRegistry.load(new org.apache.hadoop.fs.Path(root, "dataset_info.yaml"),
                session.sparkContext().hadoopConfiguration());
        StageResult result = Ingest.read(session, registry,
                List.of("alpaca_demo", "chat", "reviews", "scores", "notes", "mail"), root, MAX_RECORD_BYTES);
        assertEquals(PrepRows.PREPARED, result.kept().schema());
        assertEquals(PrepRows.REJECTED, result.rejected().schema());
        kept = result.kept().collectAsList();
        rejected = result.rejected().collectAsList();
    }

    @Test
    void everyRecordIsKeptOrRejectedWithTheExpectedCountsPerDataset() {
        Map<String, Long> keptBy = countBy(kept, PrepRows.DATASET);
        Map<String, Long> rejectedBy = countBy(rejected, PrepRows.DATASET);
        assertEquals(Map.of("alpaca_demo", 2L, "chat", 3L, "reviews", 2L, "scores", 2L, "notes", 2L, "mail", 3L), keptBy);
        assertEquals(Map.of("alpaca_demo", 5L, "chat", 3L, "reviews", 2L, "scores", 4L, "notes", 2L, "mail", 4L), rejectedBy);
        for (Row r : rejected) {
            assertEquals(Ingest.STAGE, r.getAs(PrepRows.STAGE));
            assertTrue(((String) r.getAs(PrepRows.SOURCE)).startsWith("file:"), r.toString());
            assertTrue(!((String) r.getAs(PrepRows.REASON)).isBlank(), r.toString());
        }
        assertEquals(kept.size(), kept.stream().map(r -> r.getAs(PrepRows.ID)).distinct().count(), "ids are unique");
    }

    @Test
    void jsonLinesReasonsNameTheLineAndWhatWasExpected() {
        List<String> reasons = reasons("alpaca_demo");
        assertEquals(5, reasons.size(), reasons.toString());
        assertTrue(reasons.get(0).startsWith("line 4 is not valid JSON: Unexpected character ('}'"), reasons.get(0));
        assertEquals("line 5: column 'output' should be a string, got a number 5", reasons.get(1));
        assertEquals("line 6: no value for column 'output' (alpaca response); name yours in columns.response in"
                + " dataset_info.yaml (the record has instruction)", reasons.get(2));
        assertTrue(reasons.get(3).startsWith("line 7 is not UTF-8 text"), reasons.get(3));
        assertEquals("line 8 is 100,034 bytes, over data.max_record_bytes = 65,536; raise the limit or split the record"
                + " (its first 1,024 bytes are kept here)", reasons.get(4));
        Row huge = rejected.stream().filter(r -> reasonOf(r).startsWith("line 8")).findFirst().orElseThrow();
        assertEquals(1024, ((String) huge.getAs(PrepRows.RECORD)).length());
        Row malformed = rejected.stream().filter(r -> reasonOf(r).startsWith("line 4")).findFirst().orElseThrow();
        assertEquals("{\"instruction\": \"x\", \"output\": }", malformed.getAs(PrepRows.RECORD));
    }

    @Test
    void alpacaRowsBecomeConversationsWithStableIds() throws Exception {
        List<Row> rows = kept.stream().filter(r -> "alpaca_demo".equals(r.getAs(PrepRows.DATASET)))
                .sorted((a, b) -> ((String) a.getAs(PrepRows.SYSTEM) == null ? "" : "z")
                        .compareTo((String) b.getAs(PrepRows.SYSTEM) == null ? "" : "z")).toList();
        Row first = rows.get(0);
        assertEquals(sha256Id("alpaca_demo", "alpaca.jsonl", 1), first.getAs(PrepRows.ID));
        assertEquals(List.of(List.of("user", "Add\n2 and 3"), List.of("assistant", "5")), turns(first));
        assertNull(first.getAs(PrepRows.SPLIT));
        assertNull(first.getAs(PrepRows.TEXT));
        Row second = rows.get(1);
        assertEquals(sha256Id("alpaca_demo", "alpaca.jsonl", 2), second.getAs(PrepRows.ID));
        assertEquals("You add.", second.getAs(PrepRows.SYSTEM));
        assertEquals(List.of(List.of("user", "Add 2 and 3"), List.of("assistant", "5"),
                List.of("user", "And 4?"), List.of("assistant", "9")), turns(second));
    }

    @Test
    void sharegptArraysKeepGoodElementsAndSayWhereTheFileBroke() throws Exception {
        List<String> reasons = reasons("chat").stream().sorted().toList();
        assertEquals(3, reasons.size(), reasons.toString());
        assertEquals("element 1 (line 3): column 'conversations' turn 0 has role 'gpt', expected 'human': turns alternate"
                + " human / gpt, starting with human", reasons.get(0));
        // the rest of the message is Jackson's own description of the syntax error
        assertTrue(reasons.get(1).startsWith("element 1 and the rest of the file: not valid JSON at line 2, column 43: ")
                && reasons.get(1).endsWith(" (1 elements before it were read)"), reasons.get(1));
        assertEquals("empty file: no JSON array", reasons.get(2));
        Row outOfOrder = rejected.stream().filter(r -> reasonOf(r).startsWith("element 1 (line 3)")).findFirst().orElseThrow();
        assertEquals("{\"conversations\": [{\"from\": \"gpt\", \"value\": \"I start\"}, {\"from\": \"human\","
                + " \"value\": \"No\"}]}", outOfOrder.getAs(PrepRows.RECORD), "the element's raw text");
        Row withSystem = kept.stream().filter(r -> "Be brief.".equals(r.getAs(PrepRows.SYSTEM))).findFirst().orElseThrow();
        assertEquals(sha256Id("chat", "a.json", 2), withSystem.getAs(PrepRows.ID));
        assertEquals(List.of(List.of("user", "Why?"), List.of("assistant", "Because."), List.of("user", "Ok"),
                List.of("assistant", "Yes.")), turns(withSystem));
    }

    @Test
    void csvQuotedFieldsSpanLinesAndShortRecordsAreRejected() {
        Map<String, String> labels = kept.stream().filter(r -> "reviews".equals(r.getAs(PrepRows.DATASET)))
                .collect(Collectors.toMap(r -> r.getAs(PrepRows.TEXT), r -> r.getAs(PrepRows.LABEL)));
        assertEquals(Map.of("Great phone", "positive", "Broke after a day, and\nsupport never answered", "negative"), labels);
        assertEquals(List.of("record 3 (line 5) has 1 fields, the header has 2 (text, label)",
                "record 4 (line 6): column 'text' (classification text) is empty"), reasons("reviews"));
        assertEquals(List.of(",neutral", "only one field"), rejected.stream()
                .filter(r -> "reviews".equals(r.getAs(PrepRows.DATASET))).map(r -> (String) r.getAs(PrepRows.RECORD))
                .sorted().toList(), "the raw CSV records");
    }

    @Test
    void parquetRowsAreCheckedPerRowAndUnreadableFilesAreOneRejection() {
        Map<String, String> labels = kept.stream().filter(r -> "scores".equals(r.getAs(PrepRows.DATASET)))
                .collect(Collectors.toMap(r -> r.getAs(PrepRows.TEXT), r -> r.getAs(PrepRows.LABEL)));
        assertEquals(Map.of("fine", "1", "bad", "0"), labels);
        List<String> reasons = reasons("scores");
        assertEquals(4, reasons.size(), reasons.toString());
        assertTrue(reasons.contains("row 1: no value for column 'text' (classification text); name yours in columns.text"
                + " in dataset_info.yaml (the record has label)"), reasons.toString());
        assertTrue(reasons.contains("row 0: column 'text' should be a string, got a number 7"), reasons.toString());
        assertTrue(reasons.contains("row 1: column 'text' should be a string, got a number 8"), reasons.toString());
        assertTrue(reasons.stream().anyMatch(r -> r.startsWith("not a Parquet file: it does not begin and end with")), reasons.toString());
    }

    @Test
    void textFilesAreOneRowEachAndBinaryOrEmptyFilesAreRejected() {
        Map<String, String> texts = kept.stream().filter(r -> "notes".equals(r.getAs(PrepRows.DATASET)))
                .collect(Collectors.toMap(r -> r.getAs(PrepRows.ID), r -> r.getAs(PrepRows.TEXT)));
        assertEquals(Map.of(sha256Id("notes", "a.txt", 0), "Spark runs on the JVM.\n",
                sha256Id("notes", "sub/d.txt", 0), "Parquet is columnar.\n"), texts);
        List<String> reasons = reasons("notes");
        assertEquals("empty file: the text file holds no text", reasons.get(0));
        assertTrue(reasons.get(1).startsWith("not UTF-8 text ("), reasons.get(1));
    }

    @Test
    void emailFilesKeepSubjectAndBodyWithTheFixedLabel() {
        List<Row> mails = kept.stream().filter(r -> "mail".equals(r.getAs(PrepRows.DATASET))).toList();
        assertEquals(3, mails.size());
        for (Row m : mails) {
            assertEquals("spam", m.getAs(PrepRows.LABEL));
            assertEquals(PrepRows.FORMAT_CLASSIFICATION, m.getAs(PrepRows.FORMAT));
            assertTrue(!((String) m.getAs(PrepRows.TEXT)).contains("Received:"));
        }
        List<String> reasons = reasons("mail"); // sorted by file: empty, garbage, huge, the broken spam
        assertEquals(4, reasons.size(), reasons.toString());
        assertEquals("empty file: the e-mail file holds no text", reasons.get(0));
        assertTrue(reasons.get(1).startsWith("binary data, not an e-mail message: ")
                && reasons.get(1).endsWith("control bytes in the first 300 bytes"), reasons.get(1));
        assertEquals("the e-mail file is 100,014 bytes, over data.max_record_bytes = 65,536; raise the limit or split the"
                + " record (its first 1,024 bytes are kept here)", reasons.get(2));
        assertEquals("broken MIME body: a multipart/alternative whose boundary '=Multipart Boundary 0925021429' never"
                + " appears", reasons.get(3));
    }

    private static List<String> reasons(String dataset) {
        return rejected.stream().filter(r -> dataset.equals(r.getAs(PrepRows.DATASET)))
                .sorted((a, b) -> ((String) a.getAs(PrepRows.SOURCE) + reasonOf(a)).compareTo(b.getAs(PrepRows.SOURCE) + reasonOf(b)))
                .map(IngestTest::reasonOf).toList();
    }

    private static String reasonOf(Row r) {
        return r.getAs(PrepRows.REASON);
    }

    private static Map<String, Long> countBy(List<Row> rows, String column) {
        return rows.stream().collect(Collectors.groupingBy(r -> r.getAs(column), TreeMap::new, Collectors.counting()));
    }

    private static List<List<String>> turns(Row row) {
        List<Row> messages = row.getList(row.fieldIndex(PrepRows.MESSAGES));
        return messages.stream().map(t -> List.of(t.getString(0), t.getString(1))).toList();
    }

    /** The id rule written out independently: SHA-256 of dataset NUL path NUL position, first 16 bytes in hex. */
    private static String sha256Id(String dataset, String relative, long position) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest((dataset + "\0" + relative + "\0" + position).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, 32);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
