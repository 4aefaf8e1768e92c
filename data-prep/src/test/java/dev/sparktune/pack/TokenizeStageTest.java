package dev.sparktune.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.SparkClusterExtension;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.Packing;
import dev.sparktune.train.SequencePacker;
import dev.sparktune.train.SftEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenize stage on Spark {@code local[2]} with all-MiniLM-L6-v2's real tokenizer (WordPiece, uncased) and the
 * built-in chatml template. Expected samples are computed on the driver with the model module's own
 * {@link SftEncoder} and {@link Tokenizer}; what Spark wrote is read back with {@link TokenizedParquet}, the trainer's
 * reader.
 */
@Tag("integration")
class TokenizeStageTest {
    private static final int CUTOFF = 64;
    private static final long X = CausalLmLoss.IGNORE_INDEX;
    
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);

    @TempDir
    static Path dir;
    private static Path modelDir;
    private static Tokenizer tokenizer;
    private static List<Row> rows;

    @BeforeAll
    static void setUp() throws IOException {
        modelDir = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, modelDir.resolve("tokenizer.json"));
        tokenizer = Tokenizer.load(modelDir);
        rows = PackTestData.rows();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static Dataset<Row> input(int partitions) {
        return spark.session().createDataFrame(rows, PrepRows.PREPARED).repartition(partitions);
    }

    private static PackOptions options(String name, boolean packing) {
        return PackOptions.of(modelDir.toString(), CUTOFF, packing, false, "chatml",
                dir.resolve(name).toString()).withPartitions(3);
    }

    private static List<TokenizedRow> read(String path) {
        return PackTestData.read(spark.session(), path);
    }

    private static List<TokenizedRow> expectedCausal(boolean trainOnPrompt) {
        return PackTestData.expectedCausal(rows, tokenizer, CUTOFF, trainOnPrompt);
    }

    @Test
    void tokenizesEachFormatAsTheModelModuleDoesAndRejectsWhatCannotBeLearned() throws IOException {
        PackOutcome outcome = TokenizeStage.run(spark.session(), input(4), options("plain", false));
        List<TokenizedRow> written = read(dir.resolve("plain").toString());

        // SFT and text: the same ids and labels as SftEncoder / Tokenizer on the driver, task = dataset
        List<TokenizedRow> causal = written.stream().filter(r -> r.labels() != null)
                .map(r -> PackTestData.tagged(r, r.task())).toList();
        assertEquals(PackTestData.multiset(expectedCausal(false)), PackTestData.multiset(causal));
        written.stream().filter(r -> r.labels() != null).forEach(r -> {
            assertNull(r.segmentIds());
            assertNull(r.label());
            assertTrue(r.inputIds().length <= CUTOFF);
        });

        // independent of SftEncoder, for a one-turn chat: the prompt, written out as chatml, is masked and the
        // reply with its end of turn is learned (WordPiece splits at whitespace and punctuation, so the pieces'
        // tokens concatenate to the whole text's)
        Row first = rows.get(1);
        String user = PackTestData.turns(first).get(0).getString(1);
        String reply = PackTestData.turns(first).get(1).getString(1);
        long[] prompt = tokenizer.encode("<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n", false);
        long[] answer = tokenizer.encode(reply + "<|im_end|>\n", false);
        long[] idsOfOne = Stream.of(prompt, answer).flatMapToLong(Arrays::stream).toArray();
        long[] labelsOfOne = Stream.of(Arrays.stream(prompt).map(t -> X).toArray(), answer)
                .flatMapToLong(Arrays::stream).toArray();
        assertTrue(causal.contains(new TokenizedRow(idsOfOne, labelsOfOne, null, null, "chat")),
                "the one-turn chat " + first);

        // classification: special tokens, cut to cutoff_len, label index from the sorted vocabulary
        List<String> vocabulary = List.of("neg", "neutral", "pos");
        Map<Long, List<TokenizedRow>> byLabel = new TreeMap<>();
        written.stream().filter(r -> r.label() != null).forEach(r -> {
            assertNull(r.labels());
            assertNull(r.segmentIds());
            assertEquals("sentiment", r.task());
            byLabel.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
        });
        List<TokenizedRow> expectedClass = expectedClassification(rows, vocabulary);
        assertEquals(PackTestData.multiset(expectedClass), PackTestData.multiset(written.stream().filter(r -> r.label() != null).toList()));
        assertEquals(Stream.of(0L, 1L, 2L).toList(), new ArrayList<>(byLabel.keySet()));
        String labels = Files.readString(dir.resolve("plain").resolve("task=sentiment").resolve("_labels.json"),
                StandardCharsets.UTF_8);
        assertTrue(labels.replaceAll("\\s", "").contains("\"id2label\":{\"0\":\"neg\",\"1\":\"neutral\",\"2\":\"pos\"}"),
                labels);

        // rejected rows: with stage, reason and the row, and the counts conserve
        Map<String, String> rejected = new HashMap<>();
        for (Row r : outcome.result().rejected().collectAsList()) {
            assertEquals("tokenize", r.getAs(PrepRows.STAGE));
            assertNotNull(r.getAs(PrepRows.RECORD));
            rejected.put(r.getAs(PrepRows.SOURCE), r.getAs(PrepRows.REASON));
        }
        assertEquals(Map.of("chat-long-prompt", true, "chat-no-reply", true, "cls-empty", true),
                Map.of("chat-long-prompt", rejected.get("chat-long-prompt").contains("cutoff_len"),
                        "chat-no-reply", rejected.get("chat-no-reply").contains("assistant reply"),
                        "cls-empty", rejected.get("cls-empty").contains("empty text")));
        assertEquals(3, rejected.size());

        PackReport report = outcome.report();
        assertEquals(rows.size(), report.rowsIn());
        assertEquals(rows.size() - 3, report.rowsKept());
        assertEquals(3, report.rowsRejected());
        assertEquals(causal.size(), report.causalSamples());
        assertEquals(expectedClass.size(), report.classificationSamples());
        assertEquals(written.size(), report.outputRows());
        assertEquals(written.stream().mapToLong(r -> r.inputIds().length).sum(), report.tokens());
        assertEquals(written.stream().filter(r -> r.inputIds().length == CUTOFF).count(), report.samplesAtCutoff());
        TreeMap<Integer, Long> histogram = new TreeMap<>();
        for (TokenizedRow r : written) {
            int n = r.inputIds().length;
            int bound = n <= 8 ? 8 : n <= 16 ? 16 : n <= 32 ? 32 : 64;
            if (n <= 4) {
                bound = n <= 1 ? 1 : n <= 2 ? 2 : 4;
            }
            histogram.merge(bound, 1L, Long::sum);
        }
        assertEquals(histogram, new TreeMap<>(report.lengthHistogram()));
        assertEquals(0, report.packedRows());
    }

    /** Classification samples of {@code rows}: special tokens, cut to cutoff_len, the label's index. */
    private static List<TokenizedRow> expectedClassification(List<Row> rows, List<String> vocabulary) {
        List<TokenizedRow> out = new ArrayList<>();
        for (Row row : rows) {
            if (row.getString(2).equals("classification") && !row.getString(6).isBlank()) {
                long[] ids = tokenizer.encode(row.getString(6));
                if (ids.length > CUTOFF) {
                    // right truncation keeps [CLS] and the start of the text, then [SEP]
                    long[] cut = Arrays.copyOf(ids, CUTOFF);
                    cut[CUTOFF - 1] = ids[ids.length - 1];
                    ids = cut;
                }
                out.add(new TokenizedRow(ids, null, null, (long) vocabulary.indexOf(row.getString(7)), "sentiment"));
            }
        }
        return out;
    }

    /** Causal samples of packed rows, unpacked, with their task. */
    private static List<TokenizedRow> unpacked(List<TokenizedRow> written) {
        return Packing.unpack(written.stream().filter(r -> r.label() == null).toList());
    }

    @Test
    void heldOutSplitsGoToTheirOwnFoldersPackedApartAndTheTrainerReadsOnlyTrainRows() throws IOException {
        // by the id's hash: u < 0.3 validation, u < 0.45 test, the rest train
        List<Row> input = new ArrayList<>();
        for (Row row : rows) {
            String id = row.getString(0);
            String split = PackTestData.referenceSplit(id, 0.3).equals(PrepRows.SPLIT_VALIDATION)
                    ? PrepRows.SPLIT_VALIDATION
                    : PackTestData.referenceSplit(id, 0.45).equals(PrepRows.SPLIT_VALIDATION) ? PrepRows.SPLIT_TEST
                    : PrepRows.SPLIT_TRAIN;
            input.add(PackTestData.withSplit(row, split));
        }
        // a label only the validation split has, and a split the stage does not know
        input.add(PackTestData.withSplit(PackTestData.text("cls-only-validation", "sentiment", "classification",
                "a label seen in validation alone.", "val-only"), PrepRows.SPLIT_VALIDATION));
        input.add(PackTestData.withSplit(PackTestData.text("doc-holdout-split", "docs", "text", "a held-out row.",
                null), "holdout"));
        List<Row> train = input.stream().filter(r -> PrepRows.SPLIT_TRAIN.equals(r.getString(3))).toList();
        List<Row> validation = input.stream().filter(r -> PrepRows.SPLIT_VALIDATION.equals(r.getString(3))).toList();
        List<Row> test = input.stream().filter(r -> PrepRows.SPLIT_TEST.equals(r.getString(3))).toList();
        assertTrue(validation.size() >= 20 && test.size() >= 5 && train.size() >= 50, validation.size()
                + " validation and " + test.size() + " test rows of " + input.size());

        PackOutcome outcome = TokenizeStage.run(spark.session(),
                spark.session().createDataFrame(input, PrepRows.PREPARED).repartition(4), options("split", true));
        Path out = dir.resolve("split");
        assertEquals("_validation", TokenizeStage.VALIDATION_DIR);
        assertTrue(Files.isDirectory(out.resolve(TokenizeStage.VALIDATION_DIR)));

        assertEquals("_test", TokenizeStage.TEST_DIR);
        assertTrue(Files.isDirectory(out.resolve(TokenizeStage.TEST_DIR)));

        // the trainer's listing of tokenized_path holds no file of _validation/ nor _test/, and its rows unpack to
        // exactly the train rows' samples; _validation/ and _test/ to exactly their split's samples. All being
        // exact, no packed row mixes the splits.
        org.apache.hadoop.conf.Configuration conf = spark.session().sparkContext().hadoopConfiguration();
        List<TokenizedParquet.RowGroup> groups = TokenizedParquet.rowGroups(conf, out.toString());
        assertTrue(groups.stream().noneMatch(g -> g.file().contains(TokenizeStage.VALIDATION_DIR)
                || g.file().contains(TokenizeStage.TEST_DIR)), groups.toString());
        List<TokenizedRow> trainWritten = read(out.toString());
        List<TokenizedRow> validationWritten = read(out.resolve(TokenizeStage.VALIDATION_DIR).toString());
        List<TokenizedRow> testWritten = read(out.resolve(TokenizeStage.TEST_DIR).toString());
        List<String> vocabulary = List.of("neg", "neutral", "pos", "val-only");
        Map<TokenizedRow, Integer> trainCausal = PackTestData.multiset(
                PackTestData.expectedCausal(train, tokenizer, CUTOFF, false));
        Map<TokenizedRow, Integer> validationCausal = PackTestData.multiset(
                PackTestData.expectedCausal(validation, tokenizer, CUTOFF, false));
        Map<TokenizedRow, Integer> testCausal = PackTestData.multiset(
                PackTestData.expectedCausal(test, tokenizer, CUTOFF, false));
        assertTrue(trainCausal.keySet().stream().noneMatch(k -> validationCausal.containsKey(k)
                        || testCausal.containsKey(k)) && validationCausal.keySet().stream().noneMatch(testCausal::containsKey),
                "the test's splits share a sample: the checks below could not tell them apart");
        assertEquals(trainCausal, PackTestData.multiset(unpacked(trainWritten)));
        assertEquals(validationCausal, PackTestData.multiset(unpacked(validationWritten)));
        assertEquals(testCausal, PackTestData.multiset(unpacked(testWritten)));
        assertEquals(PackTestData.multiset(expectedClassification(test, vocabulary)),
                PackTestData.multiset(testWritten.stream().filter(r -> r.label() != null).toList()));
        assertEquals(PackTestData.multiset(expectedClassification(train, vocabulary)),
                PackTestData.multiset(trainWritten.stream().filter(r -> r.label() != null).toList()));
        assertEquals(PackTestData.multiset(expectedClassification(validation, vocabulary)),
                PackTestData.multiset(validationWritten.stream().filter(r -> r.label() != null).toList()));
        assertTrue(validationWritten.stream().anyMatch(r -> Objects.equals(r.label(), 3L)), "the val-only label");
        for (TokenizedRow row : validationWritten) {
            if (row.label() == null) {
                assertEquals(CUTOFF, row.inputIds().length, "packed like the training rows");
                assertNotNull(row.segmentIds());
            }
        }

        // Spark's reader skips _validation/ and _test/ too; the outcome hands all splits
        assertEquals(trainWritten.size(), spark.session().read().parquet(out.toString()).count());
        assertEquals(trainWritten.size(), outcome.result().kept().count());
        assertEquals(validationWritten.size(), outcome.validation().count());
        assertEquals(testWritten.size(), outcome.test().count());

        // labels of all splits; the unknown split is rejected, with the three rows no split can learn from
        String labels = Files.readString(out.resolve("task=sentiment").resolve("_labels.json"), StandardCharsets.UTF_8);
        assertTrue(labels.replaceAll("\\s", "").contains(
                "\"id2label\":{\"0\":\"neg\",\"1\":\"neutral\",\"2\":\"pos\",\"3\":\"val-only\"}"), labels);
        assertTrue(testWritten.stream().anyMatch(r -> r.label() != null), "the premise: test has classification rows");
        assertEquals(labels, Files.readString(out.resolve(TokenizeStage.TEST_DIR).resolve("task=sentiment")
                .resolve("_labels.json"), StandardCharsets.UTF_8));
        Map<String, String> rejected = new HashMap<>();
        outcome.result().rejected().collectAsList()
                .forEach(r -> rejected.put(r.getAs(PrepRows.SOURCE), r.getAs(PrepRows.REASON)));
        assertEquals(java.util.Set.of("chat-long-prompt", "chat-no-reply", "cls-empty", "doc-holdout-split"),
                rejected.keySet());
        assertTrue(rejected.get("doc-holdout-split").contains("split 'holdout'"), rejected.get("doc-holdout-split"));

        PackReport report = outcome.report();
        List<String> rejectedIds = List.of("chat-long-prompt", "chat-no-reply", "cls-empty");
        assertEquals(validation.stream().filter(r -> !rejectedIds.contains(r.getString(0))).count(),
                report.validationRowsKept());
        assertEquals(test.stream().filter(r -> !rejectedIds.contains(r.getString(0))).count(), report.testRowsKept());
        assertEquals(input.size() - 4, report.rowsKept());
        assertEquals(trainWritten.size(), report.trainOutputRows());
        assertEquals(validationWritten.size(), report.validationOutputRows());
        assertEquals(testWritten.size(), report.testOutputRows());
        assertEquals(trainWritten.size() + validationWritten.size() + testWritten.size(), report.outputRows());
        assertEquals(Stream.of(trainWritten, validationWritten, testWritten).flatMap(List::stream)
                .filter(r -> r.label() == null).count(), report.packedRows());
        String stats = Files.readString(out.resolve("_stats.json"), StandardCharsets.UTF_8).replaceAll("\\s", "");
        assertTrue(stats.contains("\"trainOutputRows\":" + trainWritten.size())
                && stats.contains("\"validationOutputRows\":" + validationWritten.size()), stats);
    }

    @Test
    void movingOneRowToValidationChangesTheFingerprintAndMovesOnlyItsSamples() {
        Path out = dir.resolve("moved");
        PackOutcome before = TokenizeStage.run(spark.session(), input(2), options("moved", false));
        Row doc = rows.stream().filter(r -> r.getString(0).equals("doc-3")).findFirst().orElseThrow();
        assertEquals(0, before.validation().count());
        List<Row> moved = rows.stream()
                .map(r -> r == doc ? PackTestData.withSplit(r, PrepRows.SPLIT_VALIDATION) : r).toList();

        PackOutcome after = TokenizeStage.run(spark.session(),
                spark.session().createDataFrame(moved, PrepRows.PREPARED), options("moved", false));
        assertFalse(after.reused());
        assertNotEquals(before.fingerprint(), after.fingerprint());
        List<TokenizedRow> docSamples = PackTestData.expectedCausal(List.of(doc), tokenizer, CUTOFF, false);
        assertFalse(docSamples.isEmpty());
        List<TokenizedRow> validation = read(out.resolve(TokenizeStage.VALIDATION_DIR).toString()).stream()
                .map(r -> PackTestData.tagged(r, r.task())).toList();
        assertEquals(PackTestData.multiset(docSamples), PackTestData.multiset(validation));
        List<TokenizedRow> expectedTrain = PackTestData.expectedCausal(
                rows.stream().filter(r -> r != doc).toList(), tokenizer, CUTOFF, false);
        List<TokenizedRow> train = read(out.toString()).stream().filter(r -> r.labels() != null)
                .map(r -> PackTestData.tagged(r, r.task())).toList();
        assertEquals(PackTestData.multiset(expectedTrain), PackTestData.multiset(train));
        assertEquals(before.report().outputRows(), after.report().outputRows());
        assertEquals(docSamples.size(), after.report().validationOutputRows());
    }

    @Test
    void optionLabelListWinsAndRejectsLabelsOutsideIt() throws IOException {
        PackOutcome outcome = TokenizeStage.run(spark.session(), input(2),
                options("labelled", false).withLabels(List.of("pos", "neg")));
        Map<String, Long> want = Map.of("pos", 0L, "neg", 1L);
        Map<Long, Integer> counts = new TreeMap<>();
        read(dir.resolve("labelled").toString()).stream().filter(r -> r.label() != null)
                .forEach(r -> counts.merge(r.label(), 1, Integer::sum));
        assertEquals(Map.of(0L, 10, 1L, 10), counts);
        long unknown = outcome.result().rejected().collectAsList().stream()
                .filter(r -> ((String) r.getAs(PrepRows.REASON)).contains("label 'neutral' is not one of")).count();
        assertEquals(10, unknown);
        String labels = Files.readString(dir.resolve("labelled").resolve("task=sentiment").resolve("_labels.json"),
                StandardCharsets.UTF_8);
        assertTrue(labels.replaceAll("\\s", "").contains("\"label2id\":{\"pos\":0,\"neg\":1}"), labels + want);
    }

    @Test
    void packedParquetUnpacksToExactlyTheTokenizedSamplesDeterministically() {
        PackOutcome outcome = TokenizeStage.run(spark.session(), input(4), options("packed", true));
        List<TokenizedRow> written = read(dir.resolve("packed").toString());

        List<TokenizedRow> unpacked = new ArrayList<>();
        long packedRows = 0;
        long causalTokens = 0;
        for (TokenizedRow row : written) {
            if (row.label() != null) {
                assertNull(row.segmentIds(), "classification rows are never packed");
                continue;
            }
            packedRows++;
            assertEquals(CUTOFF, row.inputIds().length);
            // segment ids 1, 2, .. then 0 on the padding at the end
            for (int t = 1; t < CUTOFF; t++) {
                long prev = row.segmentIds()[t - 1];
                long s = row.segmentIds()[t];
                assertTrue(s == prev || s == prev + 1 || (s == 0 && prev != 0) || (s == 0 && prev == 0),
                        "segment ids " + Arrays.toString(row.segmentIds()));
            }
            for (TokenizedRow sample : Packing.samples(row)) {
                unpacked.add(sample);
                causalTokens += sample.length();
            }
        }
        assertEquals(PackTestData.multiset(expectedCausal(false)), PackTestData.multiset(unpacked));
        // and Packing.unpack reads the same rows back
        List<TokenizedRow> rowsOnly = written.stream().filter(r -> r.label() == null).toList();
        assertEquals(unpacked.size(), Packing.unpack(rowsOnly).size());
        assertEquals(30, written.stream().filter(r -> r.label() != null).count(), "classification rows, unpacked");

        PackReport report = outcome.report();
        assertEquals(packedRows, report.packedRows());
        assertEquals((double) causalTokens / (packedRows * CUTOFF), report.packingEfficiency(), 1e-12);
        // against one global best-fit pass per task on the driver: per-partition packing costs a few rows
        long global = 0;
        for (String task : List.of("chat", "docs")) {
            global += new SequencePacker(CUTOFF, 0).pack(unpacked.stream().filter(t -> t.task().equals(task)).toList())
                    .size();
        }
        System.out.printf("packing: %d samples, %d tokens -> %d rows per partition (efficiency %.3f), %d rows "
                + "with one global pass%n", unpacked.size(), causalTokens, packedRows, report.packingEfficiency(), global);
        assertTrue(packedRows <= global + 3L * 2, packedRows + " rows vs " + global + " globally");

        // a rerun from differently partitioned input writes the same rows in the same order
        TokenizeStage.run(spark.session(), input(1), options("packed-again", true));
        assertEquals(written, read(dir.resolve("packed-again").toString()));
    }

    private static Map<String, FileTime> listing(Path root) throws IOException {
        Map<String, FileTime> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.put(root.relativize(f).toString(), Files.getLastModifiedTime(f));
            }
        }
        return out;
    }

    @Test
    void tokenizedPathIsReusedWhileInputTokenizerAndOptionsAreUnchangedAndRewrittenOtherwise() throws Exception {
        Path out = dir.resolve("reused");
        PackOutcome first = TokenizeStage.run(spark.session(), input(3), options("reused", true));
        assertFalse(first.reused());
        Map<String, FileTime> before = listing(out);
        assertTrue(before.containsKey("_fingerprint") && before.containsKey("_SUCCESS"), before.toString());
        assertTrue(Files.readString(out.resolve("_fingerprint")).contains(first.fingerprint()));
        Thread.sleep(1100); // file times have one-second resolution on some file systems

        // same rows, other partitioning and order: nothing is tokenized or written
        SparkContext sc = spark.session().sparkContext();
        sc.setJobGroup("reuse", "second run", false);
        PackOutcome second = TokenizeStage.run(spark.session(), input(5), options("reused", true));
        sc.clearJobGroup();
        sc.listenerBus().waitUntilEmpty();
        // the second run's only Spark action is the input's content hash (adaptive execution adds jobs of its own
        // that materialise the input's shuffle): nothing is tokenized, packed, counted or written
        int[] jobs = sc.statusTracker().getJobIdsForGroup("reuse");
        List<String> stages = new ArrayList<>();
        for (int job : jobs) {
            for (int stage : sc.statusTracker().getJobInfo(job).get().stageIds()) {
                stages.add(sc.statusTracker().getStageInfo(stage).get().name());
            }
        }
        List<String> ours = stages.stream().filter(name -> !name.contains("withThreadLocalCaptured")).toList();
        assertFalse(ours.isEmpty());
        assertTrue(ours.stream().allMatch(name -> name.contains("at Fingerprint.java")), stages.toString());
        assertTrue(second.reused());
        assertEquals(first.fingerprint(), second.fingerprint());
        assertEquals(before, listing(out));
        assertEquals(first.report(), second.report());
        assertEquals(first.result().kept().count(), second.result().kept().count());

        // another option: rewritten
        PackOutcome third = TokenizeStage.run(spark.session(), input(3),
                PackOptions.of(modelDir.toString(), CUTOFF, true, true, "chatml", out.toString()).withPartitions(3));
        assertFalse(third.reused());
        assertNotEquals(first.fingerprint(), third.fingerprint());
        assertNotEquals(before, listing(out));
        assertTrue(read(out.toString()).stream().filter(r -> Objects.equals(r.task(), "chat"))
                .anyMatch(r -> Arrays.stream(r.labels()).filter(l -> l == X).count()
                        == Arrays.stream(r.segmentIds()).filter(s -> s == 0).count()),
                "train_on_prompt: only padding is masked");

        // one more input row: rewritten
        Map<String, FileTime> afterThird = listing(out);
        List<Row> more = new ArrayList<>(rows);
        more.add(PackTestData.text("doc-extra", "docs", "text", "one more document.", null));
        PackOutcome fourth = TokenizeStage.run(spark.session(),
                spark.session().createDataFrame(more, PrepRows.PREPARED),
                PackOptions.of(modelDir.toString(), CUTOFF, true, true, "chatml", out.toString()).withPartitions(3));
        assertFalse(fourth.reused());
        assertNotEquals(third.fingerprint(), fourth.fingerprint());
        assertNotEquals(afterThird, listing(out));
        assertEquals(rows.size() + 1, fourth.report().rowsIn());

        // a tail kept from long classification texts: rewritten
        PackOutcome fifth = TokenizeStage.run(spark.session(),
                spark.session().createDataFrame(more, PrepRows.PREPARED),
                PackOptions.of(modelDir.toString(), CUTOFF, true, true, "chatml", out.toString()).withPartitions(3)
                        .withCutoffTailLen(4));
        assertFalse(fifth.reused());
        assertNotEquals(fourth.fingerprint(), fifth.fingerprint());
    }

    /**
     * An output whose files are not all there (an s3a rename, a copy per file, that stopped half-way; a file deleted
     * since) is never reused, however its fingerprint matches: it is tokenized again, in full.
     */
    @Test
    void anOutputMissingACommittedFileIsTokenizedAgainNotReused() throws Exception {
        Path out = dir.resolve("partly-copied");
        PackOutcome first = TokenizeStage.run(spark.session(), input(3), options("partly-copied", true));
        List<TokenizedRow> complete = read(out.toString());
        Path part;
        try (Stream<Path> files = Files.walk(out)) {
            part = files.filter(f -> f.getFileName().toString().startsWith("part-")
                    && f.getParent().getFileName().toString().startsWith("task=")).findFirst().orElseThrow();
        }
        Files.delete(part);
        assertNotEquals(PackTestData.multiset(complete), PackTestData.multiset(read(out.toString())),
                "the premise: rows are missing");

        PackOutcome second = TokenizeStage.run(spark.session(), input(3), options("partly-copied", true));

        assertFalse(second.reused(), "a fingerprint beside missing files was reused");
        assertEquals(first.fingerprint(), second.fingerprint());
        assertEquals(PackTestData.multiset(complete), PackTestData.multiset(read(out.toString())));
        // the commit leaves nothing beside the output: no staging folder, kept copy nor lease
        try (Stream<Path> beside = Files.list(dir)) {
            assertEquals(List.of(), beside.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains("partly-copied") && !n.equals("partly-copied")).toList());
        }
    }
}
