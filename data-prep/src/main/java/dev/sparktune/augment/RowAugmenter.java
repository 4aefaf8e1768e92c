package dev.sparktune.augment;

import dev.sparktune.io.HadoopConf;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The augment stage's work on one partition: every row passes through, and each training row picked by a method's
 * ratio is followed by its copies. An original carries, in the extra column {@link #OUTCOMES}, one entry
 * {@code method:augmented} or {@code method:reason} per copy asked for; copies carry null there. A row whose
 * augmentation throws (anything {@link RecordFailure#isRecoverable recoverable}, a StackOverflowError included) is
 * emitted once, unchanged, with the reason in {@link #REASON} and null outcomes, and becomes a rejected row.
 *
 * <p>Rows are taken in chunks of {@code batchSize * concurrency} so that one chunk's back-translations go out as one
 * round of concurrent batches; synonym and EDA copies need no server and are made row by row.
 */
final class RowAugmenter implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(RowAugmenter.class);

    static final String OUTCOMES = "_augment_outcomes";
    static final String REASON = "_augment_reason";
    static final StructType SCHEMA = PrepRows.PREPARED
            .add(OUTCOMES, DataTypes.createArrayType(DataTypes.StringType, false), true)
            .add(REASON, DataTypes.StringType, true);
    static final String AUGMENTED = "augmented";

    private static final int ID = PrepRows.PREPARED.fieldIndex(PrepRows.ID);
    private static final int SPLIT = PrepRows.PREPARED.fieldIndex(PrepRows.SPLIT);
    private static final int MESSAGES = PrepRows.PREPARED.fieldIndex(PrepRows.MESSAGES);
    private static final int TEXT = PrepRows.PREPARED.fieldIndex(PrepRows.TEXT);
    private static final int PARENT_ID = PrepRows.PREPARED.fieldIndex(PrepRows.PARENT_ID);
    private static final int AUG_METHOD = PrepRows.PREPARED.fieldIndex(PrepRows.AUG_METHOD);
    private static final int WIDTH = PrepRows.PREPARED.size();

    private final AugmentOptions options;
    private final HadoopConf hadoopConf;

    RowAugmenter(AugmentOptions options, HadoopConf hadoopConf) {
        this.options = options;
        this.hadoopConf = hadoopConf;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        Partition partition = new Partition();
        TaskContext task = TaskContext.get();
        if (task != null) {
            // also when the consumer stops early (a limit) or the task fails: the translations made are still good
            task.addTaskCompletionListener((TaskCompletionListener) context -> partition.finish());
        }
        return new Iterator<>() {
            private Iterator<Row> buffered = List.<Row>of().iterator();

            @Override
            public boolean hasNext() {
                while (!buffered.hasNext() && rows.hasNext()) {
                    buffered = partition.chunk(rows).iterator();
                }
                if (!buffered.hasNext()) {
                    partition.finish();
                    return false;
                }
                return true;
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return buffered.next();
            }
        };
    }

    /** The state of one task: the augmenters, and translations made here that the cache does not have yet. */
    private final class Partition {
        private final SynonymReplacer synonyms = new SynonymReplacer(options.synonyms());
        private final EdaOperations eda = new EdaOperations(options.eda(), options.synonyms().protectedTokens());
        private final BackTranslator backTranslator;
        private final TranslationCache cache;
        private final Map<String, String> added = new HashMap<>();
        private final int chunkRows;
        private boolean failureLogged;
        private boolean finished;

        Partition() {
            BackTranslationOptions bt = options.backTranslation();
            boolean translating = options.backTranslationRatio() > 0;
            backTranslator = translating ? BackTranslator.forOptions(bt) : null;
            cache = translating && bt.cachePath() != null ? TranslationCache.open(bt.cachePath(), hadoopConf.get()) : null;
            if (cache != null) {
                cache.refresh();
            }
            chunkRows = translating ? Math.max(1, bt.batchSize() * bt.concurrency()) : 256;
        }

        List<Row> chunk(Iterator<Row> rows) {
            List<Row> originals = new ArrayList<>();
            while (rows.hasNext() && originals.size() < chunkRows) {
                originals.add(rows.next());
            }
            List<List<String>> outcomes = new ArrayList<>();
            List<List<Row>> copies = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            List<Integer> toTranslate = new ArrayList<>();
            for (int r = 0; r < originals.size(); r++) {
                Row row = originals.get(r);
                List<String> rowOutcomes = new ArrayList<>();
                List<Row> rowCopies = new ArrayList<>();
                outcomes.add(rowOutcomes);
                copies.add(rowCopies);
                failures.add(null);
                try {
                    if (!PrepRows.SPLIT_TRAIN.equals(row.getString(SPLIT))) {
                        continue;
                    }
                    rewriteLocally(row, AugmentMethod.SYNONYM, synonyms::replace, "no_replaceable_word", rowOutcomes,
                            rowCopies);
                    rewriteLocally(row, AugmentMethod.EDA, eda::apply, "no_applicable_operation", rowOutcomes,
                            rowCopies);
                    if (copies(row, AugmentMethod.BACK_TRANSLATION) > 0) {
                        if (pieces(row).isEmpty()) {
                            rowOutcomes.add(outcome(AugmentMethod.BACK_TRANSLATION, "no_text"));
                        } else {
                            toTranslate.add(r);
                        }
                    }
                } catch (Throwable e) {
                    failures.set(r, RecordFailure.reason("augmenting", e));
                }
            }
            if (!toTranslate.isEmpty()) {
                backTranslate(originals, toTranslate, outcomes, copies, failures);
            }
            List<Row> out = new ArrayList<>();
            for (int r = 0; r < originals.size(); r++) {
                if (failures.get(r) != null) {
                    out.add(rejected(originals.get(r), failures.get(r)));
                    continue;
                }
                out.add(withOutcomes(originals.get(r), outcomes.get(r)));
                out.addAll(copies.get(r));
            }
            return out;
        }

        private void rewriteLocally(Row row, AugmentMethod method, BiFunction<String, SplittableRandom, String> rewrite,
                String nothingChanged, List<String> rowOutcomes, List<Row> rowCopies) {
            int n = copies(row, method);
            if (n == 0) {
                return;
            }
            List<String> pieces = pieces(row);
            String id = row.getString(ID);
            Set<List<String>> made = new HashSet<>();
            for (int v = 0; v < n; v++) {
                if (pieces.isEmpty()) {
                    rowOutcomes.add(outcome(method, "no_text"));
                    continue;
                }
                List<String> rewritten = new ArrayList<>();
                for (int p = 0; p < pieces.size(); p++) {
                    SplittableRandom random = StableHash.random(Long.toString(options.seed()), id, method.label(),
                            Integer.toString(v), Integer.toString(p));
                    rewritten.add(rewrite.apply(pieces.get(p), random));
                }
                if (rewritten.equals(pieces)) {
                    rowOutcomes.add(outcome(method, nothingChanged));
                } else if (!made.add(rewritten)) {
                    rowOutcomes.add(outcome(method, "same_as_other_copy"));
                } else {
                    rowOutcomes.add(outcome(method, AUGMENTED));
                    rowCopies.add(copy(row, rewritten, method, v));
                }
            }
        }

        private void backTranslate(List<Row> originals, List<Integer> rowsToTranslate, List<List<String>> outcomes,
                List<List<Row>> copies, List<String> failures) {
            List<String> texts = new ArrayList<>();
            for (int r : rowsToTranslate) {
                texts.addAll(pieces(originals.get(r)));
            }
            List<TranslationOutcome> translated = backTranslator.roundTrip(texts, cache, added);
            int at = 0;
            for (int r : rowsToTranslate) {
                Row row = originals.get(r);
                List<String> pieces = pieces(row);
                List<TranslationOutcome> mine = translated.subList(at, at + pieces.size());
                at += pieces.size();
                try {
                    backTranslated(row, pieces, mine, outcomes.get(r), copies.get(r));
                } catch (Throwable e) {
                    failures.set(r, RecordFailure.reason("augmenting (back-translation)", e));
                }
            }
        }

        private void backTranslated(Row row, List<String> pieces, List<TranslationOutcome> mine,
                List<String> rowOutcomes, List<Row> rowCopies) {
            TranslationOutcome failed = mine.stream().filter(o -> !o.succeeded()).findFirst().orElse(null);
            String result;
            if (failed != null) {
                result = failed.unavailable() ? "translator_unavailable" : "translator_error";
                if (!failureLogged) {
                    LOG.warn("back-translation of row {} failed, its row and others pass through unaugmented: {}",
                            row.getString(ID), failed.failure());
                    failureLogged = true;
                }
            } else {
                List<String> rewritten = mine.stream().map(TranslationOutcome::text).toList();
                boolean unchanged = true;
                for (int p = 0; p < pieces.size(); p++) {
                    unchanged &= BackTranslator.unchanged(pieces.get(p), rewritten.get(p));
                }
                if (unchanged) {
                    result = "translation_unchanged";
                } else {
                    result = AUGMENTED;
                    rowCopies.add(copy(row, rewritten, AugmentMethod.BACK_TRANSLATION, 0));
                }
            }
            rowOutcomes.add(outcome(AugmentMethod.BACK_TRANSLATION, result));
        }

        synchronized void finish() {
            if (!finished) {
                finished = true;
                if (cache != null && !added.isEmpty()) {
                    cache.add(added);
                }
            }
        }
    }

    /** How many copies a method makes of this row: the integer part of its ratio, plus one with the fraction's odds. */
    private int copies(Row row, AugmentMethod method) {
        double ratio = options.ratio(method);
        int whole = (int) Math.floor(ratio);
        double fraction = ratio - whole;
        boolean extra = fraction > 0
                && StableHash.uniform(Long.toString(options.seed()), row.getString(ID), method.label(), "pick") < fraction;
        return whole + (extra ? 1 : 0);
    }

    /** The texts augmentation may rewrite: {@code text}, then the content of each user turn, skipping blank ones. */
    static List<String> pieces(Row row) {
        List<String> pieces = new ArrayList<>();
        if (!row.isNullAt(TEXT) && !row.getString(TEXT).isBlank()) {
            pieces.add(row.getString(TEXT));
        }
        if (!row.isNullAt(MESSAGES)) {
            for (Row turn : row.<Row>getList(MESSAGES)) {
                if (rewritable(turn)) {
                    pieces.add(turn.getString(1));
                }
            }
        }
        return pieces;
    }

    private static boolean rewritable(Row turn) {
        String content = turn.getString(1);
        return PrepRows.ROLE_USER.equals(turn.getString(0)) && content != null && !content.isBlank();
    }

    /** The row with its rewritable pieces replaced, in the order {@link #pieces} lists them, as a copy. */
    private static Row copy(Row row, List<String> rewritten, AugmentMethod method, int variant) {
        Object[] values = new Object[WIDTH + 2];
        for (int i = 0; i < WIDTH; i++) {
            values[i] = row.get(i);
        }
        int next = 0;
        if (!row.isNullAt(TEXT) && !row.getString(TEXT).isBlank()) {
            values[TEXT] = rewritten.get(next++);
        }
        if (!row.isNullAt(MESSAGES)) {
            List<Row> turns = new ArrayList<>();
            for (Row turn : row.<Row>getList(MESSAGES)) {
                if (rewritable(turn)) {
                    turns.add(RowFactory.create(turn.getString(0), rewritten.get(next++)));
                } else {
                    turns.add(turn);
                }
            }
            values[MESSAGES] = scala.jdk.javaapi.CollectionConverters.asScala(turns).toSeq();
        }
        String parent = row.getString(ID);
        values[ID] = StableHash.childId(parent, method, variant);
        values[SPLIT] = PrepRows.SPLIT_TRAIN;
        values[PARENT_ID] = parent;
        values[AUG_METHOD] = method.label();
        values[WIDTH] = null;
        return RowFactory.create(values);
    }

    private static Row withOutcomes(Row row, List<String> outcomes) {
        Object[] values = new Object[WIDTH + 2];
        for (int i = 0; i < WIDTH; i++) {
            values[i] = row.get(i);
        }
        values[WIDTH] = scala.jdk.javaapi.CollectionConverters.asScala(outcomes).toSeq();
        return RowFactory.create(values);
    }

    /** The row as it came in, with no outcomes and the reason its augmentation failed. */
    private static Row rejected(Row row, String reason) {
        Object[] values = new Object[WIDTH + 2];
        for (int i = 0; i < WIDTH; i++) {
            values[i] = row.get(i);
        }
        values[WIDTH + 1] = reason;
        return RowFactory.create(values);
    }

    private static String outcome(AugmentMethod method, String result) {
        return method.label() + ":" + result;
    }
}
