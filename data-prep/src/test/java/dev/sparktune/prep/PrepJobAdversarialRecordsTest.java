package dev.sparktune.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.AdversarialText;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19, "a record can only ever be rejected, never fail a job", as a property of the whole prep job: generated
 * adversarial records (long runs of digits, separators and brackets, a price list, folded MIME headers, deeply
 * nested MIME and JSON, lines over max_record_bytes, invalid UTF-8, NUL and control bytes, unmatched CSV quotes,
 * a corrupt Parquet file) in every registered format (jsonl, json, csv, parquet, text, email) go through ingest,
 * clean, dedup, split, synonym augmentation and tokenize. The job must succeed, every stage must conserve its rows
 * in the report ({@code in = out + rejected}; augment {@code out >= in - rejected}), {@code _rejected/} must hold
 * what the report says per stage, and every input record (found by a marker at its start) must be in the output
 * or in {@code _rejected/} with a reason. The generator's seed is fixed.
 */
@Tag("integration")
class PrepJobAdversarialRecordsTest {
    private static final long SEED = 19;
    private static final int MAX_RECORD_BYTES = 64 * 1024;

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @TempDir
    static Path dir;

    /** Every record's marker, by the file it is in. */
    private final Map<String, List<String>> markers = new LinkedHashMap<>();
    private int next;

    @Test
    void everyRecordIsKeptOrRejectedWithAReasonAndEveryStageConservesItsRows() throws IOException {
        Random random = new Random(SEED);
        Path data = Files.createDirectories(dir.resolve("data"));
        writeJsonLines(data.resolve("adversarial.jsonl"), random);
        writeJsonArrays(Files.createDirectories(data.resolve("arrays")), random);
        writeCsv(data.resolve("adversarial.csv"), random);
        writeParquet(data.resolve("parquet"), random);
        writeTexts(Files.createDirectories(data.resolve("texts")), random);
        writeEmails(Files.createDirectories(data.resolve("mail")), random);
        Files.writeString(dir.resolve("dataset_info.yaml"), """
                jsonl: {file_name: adversarial.jsonl, formatting: text}
                json: {file_name: arrays, formatting: text, file_format: json}
                csv: {file_name: adversarial.csv, formatting: text}
                parquet: {file_name: parquet, formatting: text, file_format: parquet}
                text: {file_name: texts, formatting: text, file_format: text}
                email: {file_name: mail, formatting: text, file_format: email}
                """);
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, modelDir.resolve("tokenizer.json"));
        Path out = dir.resolve("prepared");
        JobConfig job = ConfigLoader.parse("""
                model:
                  model_name_or_path: %s
                data:
                  dataset: jsonl,json,csv,parquet,text,email
                  dataset_dir: %s
                  dataset_info: %s
                  prepared_path: %s
                  tokenized_path: %s
                  cutoff_len: 64
                  val_size: 0.2
                  max_record_bytes: %d
                  synonym_ratio: 1.0
                """.formatted(modelDir, data.toUri(), dir.resolve("dataset_info.yaml").toUri(), out.toUri(),
                dir.resolve("tokenized").toUri(), MAX_RECORD_BYTES), "job.yaml", List.of()).job();

        PrepReport report = PrepJob.run(spark.session(), job.data(), job.model().modelNameOrPath(), null);

        SparkSession session = spark.session();
        List<StageCounts> stages = report.stages();
        assertEquals(List.of("ingest", "clean", "dedup", "split", "augment", "tokenize"),
                stages.stream().map(StageCounts::stage).toList());
        for (int i = 1; i < stages.size(); i++) {
            assertEquals(stages.get(i - 1).out(), stages.get(i).in(), stages.get(i) + " reads what came before");
        }
        for (StageCounts s : stages) {
            if (s.stage().equals("augment")) {
                assertTrue(s.out() >= s.in() - s.rejected(), s.toString());
            } else {
                assertTrue(s.conserved(), s.toString());
            }
        }
        List<Row> rejected = session.read().parquet(out.resolve("_rejected").toString()).collectAsList();
        Map<String, Long> rejectedByStage = rejected.stream()
                .collect(Collectors.groupingBy(r -> r.getString(0), Collectors.counting()));
        Map<String, Long> expected = new HashMap<>();
        stages.stream().filter(s -> s.rejected() > 0).forEach(s -> expected.put(s.stage(), s.rejected()));
        assertEquals(expected, rejectedByStage);
        for (Row r : rejected) {
            assertTrue(!r.getString(1).isBlank(), "a rejected row without a reason: " + r);
        }
        long records = markers.values().stream().mapToLong(List::size).sum();
        assertTrue(stages.get(0).in() > 0 && records > 50, records + " records written, " + stages.get(0));
        assertTrue(stages.get(0).rejected() > 10, "the adversarial records include malformed ones: " + stages.get(0));

        // every record: in the output, or in _rejected/ (its raw text, or a rejection naming its file)
        List<String> keptTexts = session.read().parquet(out.toString())
                .selectExpr("concat_ws('\\n', coalesce(text, ''), coalesce(concat_ws('\\n', transform(messages,"
                        + " m -> m.content)), ''))").collectAsList().stream().map(r -> r.getString(0)).toList();
        String kept = String.join("\n", keptTexts);
        String rejectedRecords = rejected.stream().map(r -> r.isNullAt(4) ? "" : r.getString(4))
                .collect(Collectors.joining("\n"));
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, List<String>> file : markers.entrySet()) {
            boolean fileRejected = rejected.stream().anyMatch(r -> !r.isNullAt(3) && r.getString(3).endsWith(file.getKey())
                    && r.getString(1).contains("cannot be read"));
            for (String marker : file.getValue()) {
                if (!kept.contains(marker) && !rejectedRecords.contains(marker) && !fileRejected) {
                    missing.add(file.getKey() + ": " + marker);
                }
            }
        }
        assertEquals(List.of(), missing, "records neither kept nor rejected; rejected rows: " + rejected.stream()
                .map(r -> r.getString(0) + " " + r.getString(3) + ": " + r.getString(1).substring(0,
                        Math.min(200, r.getString(1).length()))).toList());
    }

    // --- the generator -------------------------------------------------------------------------------------

    /** Adversarial bodies; each record is a fresh marker, a space, then one of these. */
    private static List<String> bodies(Random random) {
        List<String> b = new ArrayList<>();
        b.add(AdversarialText.priceList(6 * 1024));
        b.add(AdversarialText.runOf("1", " ", 6 * 1024));
        b.add(AdversarialText.runOf("12", "-", 6 * 1024));
        b.add(AdversarialText.runOf("(", "", 6 * 1024));
        b.add(AdversarialText.runOf("(1)", "", 6 * 1024));
        b.add(AdversarialText.runOf("1", ".", 6 * 1024));
        b.add("x@" + AdversarialText.runOf("a1", ".", 6 * 1024) + ".com");
        b.add(AdversarialText.runOf("a", "-", 6 * 1024));
        b.add(AdversarialText.runOf("=41", "", 6 * 1024));
        b.add("Content-Type: text/plain;\n" + AdversarialText.runOf(" x", "\n", 6 * 1024) + "\nbody");
        b.add(AdversarialText.runOf("<div>", "", 6 * 1024));
        b.add(AdversarialText.runOf("!?.,;:", " ", 2 * 1024));
        b.add("control \u0001\u0002\u001b[31m bytes \u007f and \u0085 \u2028 here");
        b.add(AdversarialText.runOf("word", " ", 2 * MAX_RECORD_BYTES)); // over max_record_bytes
        StringBuilder unicode = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            int cp = random.nextInt(0x3000);
            if (Character.isValidCodePoint(cp) && !Character.isSurrogate((char) cp)) {
                unicode.appendCodePoint(cp);
            }
        }
        b.add(unicode.toString());
        b.add("An ordinary sentence about a quick brown fox that jumps over the lazy dog.");
        return b;
    }

    private String marker(String file) {
        String m = "zq" + (next++) + "q";
        markers.computeIfAbsent(file, f -> new ArrayList<>()).add(m);
        return m;
    }

    private void writeJsonLines(Path file, Random random) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        String name = file.getFileName().toString();
        for (String body : bodies(random)) {
            bytes.writeBytes(("{\"text\": " + json(marker(name) + " " + body) + "}\n\n").getBytes(StandardCharsets.UTF_8));
        }
        byte[] invalid = {(byte) 0xc3, (byte) 0x28, (byte) 0xff, 0, 1, 2};
        bytes.writeBytes(("{\"text\": \"" + marker(name) + " ").getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(invalid);
        bytes.writeBytes("\"}\n".getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(("{\"text\": \"" + marker(name) + " raw NUL \u0000 and \u0007 inside\"}\n").getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(("{\"text\": \"" + marker(name) + " unclosed string}\n").getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes(("{\"text\": \"" + marker(name) + "\", \"x\": " + "[".repeat(5000) + "]".repeat(5000) + "}\n")
                .getBytes(StandardCharsets.UTF_8));
        bytes.writeBytes((marker(name) + " " + "{".repeat(3000) + "\n").getBytes(StandardCharsets.UTF_8));
        Files.write(file, bytes.toByteArray());
    }

    private void writeJsonArrays(Path folder, Random random) throws IOException {
        List<String> elements = new ArrayList<>();
        for (String body : bodies(random)) {
            elements.add("{\"text\": " + json(marker("good.json") + " " + body) + "}");
        }
        Files.writeString(folder.resolve("good.json"), "[\n" + String.join(",\n", elements) + "\n]\n");
        Files.writeString(folder.resolve("broken.json"), "[{\"text\": \"" + marker("broken.json") + " fine\"},\n"
                + "{\"text\": \"" + marker("broken.json") + " never closed},\n{\"text\": \"" + marker("broken.json")
                + " after\"}]\n");
        Files.writeString(folder.resolve("deep.json"), "[{\"text\": \"" + marker("deep.json") + " deep\", \"x\": "
                + "[".repeat(5000) + "]".repeat(5000) + "}, {\"text\": \"" + marker("deep.json") + " after\"}]\n");
    }

    private void writeCsv(Path file, Random random) throws IOException {
        String name = file.getFileName().toString();
        StringBuilder csv = new StringBuilder("text,note\n");
        for (String body : bodies(random)) {
            csv.append('"').append((marker(name) + " " + body).replace("\"", "\"\"")).append("\",n\n");
        }
        csv.append(marker(name)).append(" plain record,n\n");
        csv.append('"').append(marker(name)).append(" a quote left open,n\n");
        csv.append(marker(name)).append(" swallowed one,n\n");
        csv.append('"').append(marker(name)).append(" quoted again\",n\n");
        csv.append(marker(name)).append(" after the swallow,n\n");
        csv.append('"').append(marker(name)).append(" never closed,n\n");
        csv.append(marker(name)).append(" swallowed to the end,n\n");
        Files.writeString(file, csv.toString());
    }

    private void writeParquet(Path folder, Random random) throws IOException {
        StructType schema = new StructType().add("text", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        for (String body : bodies(random)) {
            rows.add(RowFactory.create(marker("good") + " " + body));
        }
        Path good = folder.resolve("good");
        spark.session().createDataFrame(rows, schema).coalesce(1).write().parquet(good.toString());
        // the same file with bytes inside its first data page overwritten: the footer still reads
        Path part;
        try (Stream<Path> files = Files.list(good)) {
            part = files.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        Path corrupt = Files.createDirectories(folder.resolve("corrupt")).resolve("part-corrupt.parquet");
        Files.copy(part, corrupt);
        List<String> copied = new ArrayList<>(markers.get("good"));
        markers.put("part-corrupt.parquet", copied);
        try (RandomAccessFile f = new RandomAccessFile(corrupt.toFile(), "rw")) {
            byte[] noise = new byte[256];
            random.nextBytes(noise);
            f.seek(16);
            f.write(noise);
        }
    }

    private void writeTexts(Path folder, Random random) throws IOException {
        int i = 0;
        for (String body : bodies(random)) {
            String name = "t" + (i++) + ".txt";
            Files.writeString(folder.resolve(name), marker(name) + " " + body);
        }
        String name = "binary.txt";
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.writeBytes((marker(name) + " ").getBytes(StandardCharsets.UTF_8));
        byte[] noise = new byte[2000];
        random.nextBytes(noise);
        bytes.writeBytes(noise);
        Files.write(folder.resolve(name), bytes.toByteArray());
        Files.writeString(folder.resolve("nul.txt"), marker("nul.txt") + " text with a NUL \u0000 byte");
    }

    private void writeEmails(Path folder, Random random) throws IOException {
        int i = 0;
        for (String body : bodies(random)) {
            String name = "m" + (i++) + ".eml";
            Files.writeString(folder.resolve(name), "Subject: " + marker(name) + "\nFrom: a@b.example\n\n" + body + "\n");
        }
        for (int depth : new int[] {3, 70, 10_000}) {
            String name = "nested" + depth + ".eml";
            Files.writeString(folder.resolve(name),
                    AdversarialText.nestedMime(depth).replace("Subject: deep", "Subject: " + marker(name)));
        }
        String folded = "folded.eml";
        Files.writeString(folder.resolve(folded), "Subject: " + marker(folded) + "\nX-Long: a\n"
                + AdversarialText.runOf(" b", "\n", 6 * 1024) + "\n\nbody\n");
    }

    /** {@code s} as a JSON string literal. */
    private static String json(String s) {
        return new com.google.gson.Gson().toJson(s);
    }
}
