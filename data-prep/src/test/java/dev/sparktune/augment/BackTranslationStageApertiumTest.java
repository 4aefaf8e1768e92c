package dev.sparktune.augment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Back-translation eng → spa → eng in the augment stage on Spark {@code local[2]} through a real APY server. */
@Tag("integration")
class BackTranslationStageApertiumTest {
    @RegisterExtension
    static final SparkClusterExtension spark = SparkClusterExtension.local(2);
    @RegisterExtension
    static final ApertiumServer apy = new ApertiumServer();

    /** Sentence i as a classification row (even i) or a chat row (odd i); every fifth row is validation. */
    private static List<Row> rows() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < EnglishSentences.SENTENCES.size(); i++) {
            String id = String.format("bt-%02d", i);
            String split = i % 5 == 4 ? PrepRows.SPLIT_VALIDATION : PrepRows.SPLIT_TRAIN;
            String sentence = EnglishSentences.SENTENCES.get(i);
            rows.add(i % 2 == 0 ? PreparedRows.classification(id, split, sentence, "label-" + i)
                    : PreparedRows.chat(id, split, null, sentence, "An answer that stays as it is."));
        }
        return rows;
    }

    @Test
    void backTranslationsAreEnglishParaphrasesAndARerunIsServedByTheCacheAlone(@TempDir Path dir) throws IOException {
        Path cache = dir.resolve("cache");
        AugmentResult first = run(cache);
        AugmentCounts counts = first.counts();
        long train = rows().stream().filter(r -> PrepRows.SPLIT_TRAIN.equals(r.getString(3))).count();
        long made = counts.augmented(AugmentMethod.BACK_TRANSLATION);
        assertEquals(train, made + counts.unaugmented(AugmentMethod.BACK_TRANSLATION, "translation_unchanged"),
                () -> "counts " + counts);
        assertEquals(0, counts.unaugmented(AugmentMethod.BACK_TRANSLATION, "translator_unavailable"));
        assertTrue(made >= train * 2 / 3, () -> "only " + made + " of " + train + " rows changed: " + counts);
        assertEquals(rows().size() + made, counts.outputRows());

        Map<String, String> inputs = new HashMap<>();
        rows().forEach(r -> inputs.put(r.getString(0), firstPiece(r)));
        List<Row> copies = copies(first);
        assertEquals(made, copies.size());
        for (Row copy : copies) {
            String before = inputs.get(copy.getString(8));
            String after = firstPiece(copy);
            assertFalse(BackTranslator.unchanged(before, after), after);
            assertTrue(EnglishSentences.englishShare(after) >= 0.85, () -> "not English: " + after);
            assertTrue(EnglishSentences.spanishShare(after) <= 0.1, () -> "Spanish left in: " + after);
            assertEquals(PrepRows.SPLIT_TRAIN, copy.getString(3));
        }

        // the server is gone; a copy of the cache folder is read from files by a fresh cache object
        apy.stop();
        Path copied = dir.resolve("cache-copy");
        Files.createDirectories(copied);
        try (var files = Files.list(cache)) {
            for (Path f : files.toList()) {
                Files.copy(f, copied.resolve(f.getFileName()));
            }
        }
        AugmentResult rerun = run(copied);
        assertEquals(counts, rerun.counts());
        assertEquals(sorted(copies), sorted(copies(rerun)));
    }

    private static AugmentResult run(Path cache) {
        BackTranslationOptions bt = BackTranslationOptions.apertium(apy.url(), cache.toUri().toString())
                .withBatching(4, 2);
        AugmentOptions options = new AugmentOptions(11, 0, 0, 1.0, null, null, bt);
        Dataset<Row> input = spark.session().createDataFrame(rows(), PrepRows.PREPARED).repartition(2);
        return new AugmentStage(options).apply(input);
    }

    private static List<Row> copies(AugmentResult result) {
        return result.result().kept().filter("aug_method = 'back_translation'").collectAsList();
    }

    private static String firstPiece(Row r) {
        return RowAugmenter.pieces(r).get(0);
    }

    private static List<String> sorted(List<Row> rows) {
        return rows.stream().map(Row::toString).sorted().toList();
    }
}
