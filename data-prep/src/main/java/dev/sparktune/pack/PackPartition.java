package dev.sparktune.pack;

import dev.sparktune.io.TokenizedRow;
import dev.sparktune.rows.TokenArrays;
import dev.sparktune.train.SequencePacker;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Packs one partition of causal samples (sorted by task, id and piece) into {@link TokenizedSchema#TOKENIZED} rows
 * with {@link SequencePacker}: each window of up to {@code window} consecutive samples of one task is packed on its
 * own, best-fit, so memory stays bounded by the window and the result depends only on the partition's content.
 * A packed row never mixes tasks.
 */
final class PackPartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final int rowLength;
    private final long padTokenId;
    private final int window;

    PackPartition(int rowLength, long padTokenId, int window) {
        this.rowLength = rowLength;
        this.padTokenId = padTokenId;
        this.window = window;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        SequencePacker packer = new SequencePacker(rowLength, padTokenId);
        return new Iterator<>() {
            private final ArrayDeque<Row> packed = new ArrayDeque<>();
            private final List<TokenizedRow> samples = new ArrayList<>();
            private String task;
            private Row lookahead;

            @Override
            public boolean hasNext() {
                while (packed.isEmpty() && (lookahead != null || rows.hasNext())) {
                    fill();
                }
                return !packed.isEmpty();
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                return packed.poll();
            }

            /** Gathers one window of one task and packs it. */
            private void fill() {
                samples.clear();
                task = null;
                boolean first = true;
                while (samples.size() < window && (lookahead != null || rows.hasNext())) {
                    Row row = lookahead != null ? lookahead : rows.next();
                    lookahead = null;
                    String rowTask = row.getAs(TokenizedSchema.TASK);
                    if (!first && !Objects.equals(rowTask, task)) {
                        lookahead = row;
                        break;
                    }
                    first = false;
                    task = rowTask;
                    samples.add(new TokenizedRow(TokenArrays.longs(row, TokenizedSchema.INPUT_IDS),
                            TokenArrays.longs(row, TokenizedSchema.LABELS), null, null, task));
                }
                for (TokenizedRow p : packer.pack(samples)) {
                    packed.add(RowFactory.create(EncodePartition.boxed(p.inputIds()), EncodePartition.boxed(p.labels()),
                            EncodePartition.boxed(p.segmentIds()), null, p.task()));
                }
            }
        };
    }
}
