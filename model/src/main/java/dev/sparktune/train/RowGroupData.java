package dev.sparktune.train;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * Tokenized rows read from Parquet one row group at a time. Each epoch visits the row groups in a seeded shuffled
 * order and shuffles the rows inside each group. A data-parallel run deals whole row groups to the ranks
 * ({@link RowGroupShares}), so a rank opens only its own groups.
 */
final class RowGroupData implements TrainingData {
    private final List<TokenizedParquet.RowGroup> groups;
    /** Decodes one row group; tests count the calls. */
    private final Function<TokenizedParquet.RowGroup, List<TokenizedRow>> reader;

    RowGroupData(List<TokenizedParquet.RowGroup> groups, Function<TokenizedParquet.RowGroup, List<TokenizedRow>> reader) {
        this.groups = List.copyOf(groups);
        this.reader = reader;
    }

    List<TokenizedParquet.RowGroup> groups() {
        return groups;
    }

    @Override
    public long rows() {
        return groups.stream().mapToLong(TokenizedParquet.RowGroup::rows).sum();
    }

    /** Rank r reads part (r + epoch) mod N of the balanced partition: see {@link RowGroupShares}. */
    @Override
    public List<TrainingData> shards(long seed, int epoch, int worldSize) {
        if (worldSize == 1) {
            return List.of(this);
        }
        List<List<TokenizedParquet.RowGroup>> parts = RowGroupShares.balanced(groups, seed, worldSize);
        List<TrainingData> shards = new ArrayList<>();
        for (int rank = 0; rank < worldSize; rank++) {
            shards.add(new RowGroupData(parts.get(RowGroupShares.part(rank, epoch, worldSize)), reader));
        }
        return shards;
    }

    @Override
    public Iterator<TokenizedRow> epoch(long seed, int epoch, long skip) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            order.add(i);
        }
        SeededRandom.of(seed, epoch).shuffle(order);
        return new Iterator<>() {
            private int nextGroup;
            private long toSkip = skip;
            private Iterator<TokenizedRow> current = Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!current.hasNext() && nextGroup < order.size()) {
                    int g = order.get(nextGroup++);
                    TokenizedParquet.RowGroup group = groups.get(g);
                    if (toSkip >= group.rows()) {
                        toSkip -= group.rows();    // skipped without reading
                        continue;
                    }
                    List<TokenizedRow> rows = new ArrayList<>(reader.apply(group));
                    SeededRandom.of(seed, epoch, g).shuffle(rows);
                    current = rows.subList((int) toSkip, rows.size()).iterator();
                    toSkip = 0;
                }
                return current.hasNext();
            }

            @Override
            public TokenizedRow next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return current.next();
            }
        };
    }
}
