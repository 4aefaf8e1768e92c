package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DataConfig;
import dev.sparktune.ingest.SpamAssassinCorpus;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prep job on a real cluster of two executor JVMs over 3,896 SpamAssassin e-mails (easy-ham-1 and spam-2):
 * counts against the files on disk, the committed layout, reruns that write the same rows in the same files
 * (and the same report bytes), and partition writes. Clean and dedup are off: this is ingest's and the
 * output's test (PrepJobWholePipelineClusterTest runs every stage).
 */
@Tag("integration")
class PrepJobClusterTest {
    private static final String HAM = "easy-ham-1";
    private static final String SPAM = "spam-2";
    /** The one message of these two groups whose multipart boundary never appears (see EmailTextTest). */
    private static final String BROKEN = "spam-2/01214.973b4598b630a989967ff69b19f95d4a.txt";

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    @TempDir
    static Path dir;

    private static Path registry;

    @BeforeAll
    static void writeRegistry() throws IOException {
        registry = SpamAssassinCorpus.writeRegistry(dir.resolve("dataset_info.yaml"), HAM, SPAM);
    }

    @Test
    void wholeCorpusRunKeepsOrRejectsEveryMessageAndARerunWritesTheSameRowsAndReport() throws IOException {
        SparkSession session = spark.session();
        Path out = dir.resolve("prepared");
        long ham = SpamAssassinCorpus.messages(HAM).size();
        long spam = SpamAssassinCorpus.messages(SPAM).size();
        assertEquals(3896, ham + spam);

        PrepReport report = PrepJob.run(session, data(out, "ham,spam"), null);

        assertEquals(List.of(new StageCounts("ingest", ham + spam, ham + spam - 1, 1),
                new StageCounts("split", ham + spam - 1, ham + spam - 1, 0)), report.stages());
        assertTrue(Files.exists(out.resolve("_SUCCESS")));
        Dataset<Row> kept = session.read().parquet(out.toString());
        assertEquals(PrepRows.PREPARED.fieldNames().length, kept.columns().length);
        Map<String, Long> labels = kept.groupBy(PrepRows.LABEL).count().collectAsList().stream()
                .collect(Collectors.toMap(r -> r.getString(0), r -> r.getLong(1)));
        assertEquals(Map.of("ham", ham, "spam", spam - 1), labels);
        assertEquals(ham + spam - 1, kept.select(PrepRows.ID).distinct().count(), "ids are unique");
        routingHeadersAreDroppedAndTheSubjectComesFirst(kept);

        List<Row> rejected = session.read().parquet(out.resolve("_rejected").toString()).collectAsList();
        assertEquals(1, rejected.size());
        assertEquals("ingest", rejected.get(0).getAs(PrepRows.STAGE));
        assertTrue(((String) rejected.get(0).getAs(PrepRows.SOURCE)).endsWith(BROKEN), rejected.toString());
        assertTrue(((String) rejected.get(0).getAs(PrepRows.REASON)).contains("never appears"), rejected.toString());

        JsonObject json = JsonParser.parseString(Files.readString(out.resolve("_report.json"))).getAsJsonObject();
        JsonObject ingest = json.getAsJsonArray("stages").get(0).getAsJsonObject();
        assertEquals(ham + spam, ingest.get("in").getAsLong());
        assertEquals(ham + spam - 1, ingest.get("out").getAsLong());
        assertEquals(1, ingest.get("rejected").getAsLong());
        assertTrue(json.get("token_length_histogram").isJsonNull());
        assertTrue(json.get("tokenized_rows").isJsonNull());
        // data.test_size 0: no test split, no _test/ folder, no leakage check
        assertFalse(Files.exists(out.resolve(PreparedOutput.TEST_DIR)));
        assertTrue(json.get("leakage").isJsonNull());
        assertEquals(ham + spam - 1, json.getAsJsonObject("splits").get(PrepRows.SPLIT_TRAIN).getAsLong());
        assertEquals(0, json.getAsJsonObject("splits").get(PrepRows.SPLIT_TEST).getAsLong());

        Map<String, byte[]> first = contents(out);
        assertTrue(first.keySet().containsAll(List.of("part-00000.parquet", "_rejected/part-00000.parquet",
                "_report.json", "_SUCCESS")), first.keySet().toString());
        Map<String, List<Row>> firstRows = new TreeMap<>();
        for (String file : first.keySet()) {
            if (file.endsWith(".parquet")) {
                firstRows.put(file, session.read().parquet(out.resolve(file).toString()).collectAsList());
            }
        }
        PrepJob.run(session, data(out, "ham,spam"), null);
        Map<String, byte[]> second = contents(out);
        assertEquals(first.keySet(), second.keySet());
        for (String file : first.keySet()) {
            if (file.endsWith(".parquet")) {
                // Same rows in the same order. Not the same bytes: parquet-mr lists a column chunk's encodings in
                // HashSet order, which differs between executor JVMs (seen here: identical rows, footers differing).
                String path = out.resolve(file).toString();
                assertEquals(firstRows.get(file), session.read().parquet(path).collectAsList(), file + " after a rerun");
            } else {
                assertArrayEquals(first.get(file), second.get(file), file + " differs after a rerun");
            }
        }
        try (Stream<Path> beside = Files.list(dir)) {
            assertEquals(List.of(), beside.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("_") && n.contains("prepared")).toList(),
                    "no staging folder, kept copy or lease is left beside the output");
        }
    }

    @Test
    void aPartitionRunReplacesOnlyItsOwnPartition() throws IOException {
        SparkSession session = spark.session();
        Path out = dir.resolve("partitioned");
        PrepJob.run(session, data(out, "spam"), PartitionSpec.parse("dt=2026-11-28"));
        PrepJob.run(session, data(out, "spam"), PartitionSpec.parse("dt=2026-11-29"));
        Path other = out.resolve("dt=2026-11-29");
        Map<String, byte[]> before = contents(other);
        FileTime stamp = Files.getLastModifiedTime(other.resolve("part-00000.parquet"));

        PrepReport report = PrepJob.run(session, data(out, "ham"), PartitionSpec.parse("dt=2026-11-28"));

        assertEquals("dt=2026-11-28", report.partition());
        assertTrue(Files.exists(out.resolve("dt=2026-11-28/_SUCCESS")));
        Map<String, byte[]> after = contents(other);
        assertEquals(before.keySet(), after.keySet());
        before.forEach((file, bytes) -> assertArrayEquals(bytes, after.get(file), file));
        assertEquals(stamp, Files.getLastModifiedTime(other.resolve("part-00000.parquet")));

        Map<String, Long> byPartition = new TreeMap<>();
        session.read().parquet(out.toString()).groupBy("dt", PrepRows.LABEL).count().collectAsList()
                .forEach(r -> byPartition.put(r.get(0) + "/" + r.getString(1), r.getLong(2)));
        long ham = SpamAssassinCorpus.messages(HAM).size();
        long spam = SpamAssassinCorpus.messages(SPAM).size();
        assertEquals(Map.of("2026-11-28/ham", ham, "2026-11-29/spam", spam - 1), byPartition);
    }

    /**
     * For the first 300 ham messages, read with plain string handling of the raw file: the row's text starts with
     * the Subject header (when it is plain ASCII, one line) and holds none of the message's own Received or
     * Return-Path header lines. (Some bodies quote other messages' headers, so a plain search would not do.)
     */
    private static void routingHeadersAreDroppedAndTheSubjectComesFirst(Dataset<Row> kept) throws IOException {
        Map<String, String> texts = kept.filter("dataset = 'ham'").select(PrepRows.ID, PrepRows.TEXT).collectAsList()
                .stream().collect(Collectors.toMap(r -> r.getString(0), r -> r.getString(1)));
        int subjects = 0;
        for (Path message : SpamAssassinCorpus.messages(HAM).subList(0, 300)) {
            String raw = Files.readString(message, java.nio.charset.StandardCharsets.ISO_8859_1);
            String header = raw.substring(0, raw.indexOf("\n\n"));
            String text = texts.get(id("ham", message.getFileName().toString()));
            for (String line : header.lines().toList()) {
                if (line.startsWith("Received: ") || line.startsWith("Return-Path: ")) {
                    assertFalse(text.contains(line), message + " keeps " + line);
                }
            }
            String subject = header.lines().filter(l -> l.startsWith("Subject: ")).findFirst().orElse("");
            int at = header.indexOf(subject);
            boolean folded = at + subject.length() + 1 < header.length()
                    && Character.isWhitespace(header.charAt(at + subject.length() + 1));
            if (!subject.isEmpty() && !subject.contains("=?") && !folded && subject.chars().allMatch(c -> c < 128)) {
                assertTrue(text.startsWith(subject.substring("Subject: ".length()).strip() + "\n"), message + ": " + text);
                subjects++;
            }
        }
        assertTrue(subjects > 250, subjects + " plain subjects checked");
    }

    private static String id(String dataset, String relative) {
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest((dataset + "\0" + relative + "\0" + 0).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(digest).substring(0, 32);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static DataConfig data(Path out, String datasets) {
        String yaml = """
                data:
                  dataset: %s
                  dataset_dir: %s
                  dataset_info: %s
                  prepared_path: %s
                  clean: false
                  dedup: false
                """.formatted(datasets, SpamAssassinCorpus.dir().toUri(), registry.toUri(), out.toUri());
        return ConfigLoader.parse(yaml, "job.yaml", List.of()).job().data();
    }

    /** Every file under {@code root} but Hadoop's .crc checksums, by relative path. */
    private static Map<String, byte[]> contents(Path root) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().endsWith(".crc")).toList()) {
                files.put(root.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
        return files;
    }
}
