package dev.sparktune.pack;

import dev.sparktune.io.HadoopConf;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

/**
 * Tokenizes a partition of prepared rows on an executor into {@link TokenizedSchema#ENCODED} rows, with the JVM's
 * shared tokenizer ({@link ExecutorTokenizers}) loaded from the JVM's {@link ModelFolderCache}, whose copy of the
 * tokenizer files the task leases until it ends (the chat template is read from it on the first chat row). Rows
 * stream through; nothing holds the partition.
 */
final class EncodePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final TokenizerFiles files;
    private final Broadcast<HadoopConf> conf;
    private final String template;
    private final int cutoffLen;
    private final int cutoffTailLen;
    private final boolean trainOnPrompt;
    private final Map<String, LinkedHashMap<String, Long>> labelIndexes;
    private final Map<String, String> tasks;

    /**
     * @param labelIndexes per task, class label to index (serialisable maps)
     * @param tasks        dataset name to task; a dataset not listed is its own task
     */
    EncodePartition(TokenizerFiles files, Broadcast<HadoopConf> conf, String template, int cutoffLen,
                    int cutoffTailLen, boolean trainOnPrompt, Map<String, LinkedHashMap<String, Long>> labelIndexes,
                    Map<String, String> tasks) {
        this.files = files;
        this.conf = conf;
        this.template = template;
        this.cutoffLen = cutoffLen;
        this.cutoffTailLen = cutoffTailLen;
        this.trainOnPrompt = trainOnPrompt;
        this.labelIndexes = new HashMap<>(labelIndexes);
        this.tasks = new HashMap<>(tasks);
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        ModelFolderCache.Lease copy = ModelFolderCache.jvm().acquire(files.listing(), conf.value().get());
        TaskContext.get().addTaskCompletionListener((TaskCompletionListener) context -> copy.close());
        Tokenizer loaded = ExecutorTokenizers.get(files, copy.folder());
        return new Iterator<>() {
            private final List<Row> pending = new ArrayList<>();
            private final Map<String, RowTokenizer> tokenizers = new HashMap<>();

            @Override
            public boolean hasNext() {
                while (pending.isEmpty() && rows.hasNext()) {
                    encode(rows.next());
                }
                return !pending.isEmpty();
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                return pending.remove(pending.size() - 1);
            }

            private void encode(Row row) {
                try {
                    encodeOrReject(row);
                } catch (Throwable e) {
                    String reason = RecordFailure.reason("tokenizing", e); // rethrows the JVM's own errors
                    pending.clear();
                    pending.add(RowFactory.create(row.getAs(PrepRows.ID), row.getAs(PrepRows.DATASET),
                            row.getAs(PrepRows.SPLIT), null, 0, 0, null, null, null, reason, row.json()));
                }
            }

            private void encodeOrReject(Row row) {
                PreparedRow prepared = PreparedRow.of(row);
                String split = row.getAs(PrepRows.SPLIT);
                String task = tasks.getOrDefault(prepared.dataset(), prepared.dataset());
                RowTokenizer tokenizer = tokenizers.computeIfAbsent(task, t -> new RowTokenizer(loaded,
                        () -> ChatTemplate.forModel(copy.folder(), template), cutoffLen, cutoffTailLen, trainOnPrompt,
                        labelIndexes.getOrDefault(t, new LinkedHashMap<>())));
                RowTokenizer.Encoded encoded = knownSplit(split) ? tokenizer.encode(prepared)
                        : RowTokenizer.Encoded.rejected("split '" + split + "' is none of '" + PrepRows.SPLIT_TRAIN
                                + "', '" + PrepRows.SPLIT_VALIDATION + "', '" + PrepRows.SPLIT_TEST + "': the"
                                + " tokenize stage writes only those; set split to one of them (or leave it null for"
                                + " training)");
                List<Row> out = new ArrayList<>();
                if (encoded.isRejected()) {
                    out.add(RowFactory.create(prepared.id(), prepared.dataset(), split, task, 0, 0, null, null, null,
                            encoded.reason(), row.json()));
                } else if (encoded.classIndex() != null) {
                    out.add(RowFactory.create(prepared.id(), prepared.dataset(), split, task, 0,
                            encoded.classInputIds().length, boxed(encoded.classInputIds()), null,
                            encoded.classIndex(), null, null));
                } else {
                    List<TokenizedRow> samples = encoded.samples();
                    for (int piece = 0; piece < samples.size(); piece++) {
                        TokenizedRow s = samples.get(piece);
                        out.add(RowFactory.create(prepared.id(), prepared.dataset(), split, task, piece, s.length(),
                                boxed(s.inputIds()), boxed(s.labels()), null, null, null));
                    }
                }
                // next() takes from the end
                for (int i = out.size() - 1; i >= 0; i--) {
                    pending.add(out.get(i));
                }
            }
        };
    }

    /** Train, validation, test, or null (input that never went through the split stage, all of it for training). */
    private static boolean knownSplit(String split) {
        return split == null || PrepRows.SPLIT_TRAIN.equals(split) || PrepRows.SPLIT_VALIDATION.equals(split)
                || PrepRows.SPLIT_TEST.equals(split);
    }

    static Long[] boxed(long[] values) {
        Long[] out = new Long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }
}
