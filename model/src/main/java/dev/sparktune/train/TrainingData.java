package dev.sparktune.train;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;

/**
 * A rank's tokenized rows, read from Parquet one row group at a time. Each epoch visits the
 * row groups in a seeded shuffled order and shuffles the rows inside each group, so the order
 * is a pure function of (seed, epoch): a resumed run skips the rows it already trained on and
 * continues with exactly the same sequence.
 */
public final class TrainingData {
    private final Configuration conf;
    private final List<TokenizedParquet.RowGroup> groups;

    public TrainingData(Configuration conf, List<TokenizedParquet.RowGroup> groups) {
        this.conf = conf;
        this.groups = List.copyOf(groups);
    }

    public static TrainingData open(Configuration conf, String path) {
        return new TrainingData(conf, TokenizedParquet.rowGroups(conf, path));
    }

    public long rows() {
        return groups.stream().mapToLong(TokenizedParquet.RowGroup::rows).sum();
    }

    /** Rows of {@code epoch} in their shuffled order, after the first {@code skip}. */
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
                    List<TokenizedRow> rows = new ArrayList<>(TokenizedParquet.read(conf, group));
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
