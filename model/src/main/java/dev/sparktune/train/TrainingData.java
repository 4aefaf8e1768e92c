package dev.sparktune.train;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A task's tokenized rows as training reads them: a seeded shuffled order per epoch, streamed, and for a
 * data-parallel run each rank's share. The order is a pure function of its arguments, so a resumed run skips
 * the rows it already trained on and continues with exactly the same sequence.
 */
public interface TrainingData {

    /** Every row group of the tokenized Parquet at {@code path} (a file, or a folder of {@code .parquet} files). */
    static TrainingData open(Configuration conf, String path) {
        return of(conf, TokenizedParquet.rowGroups(conf, path));
    }

    /** The rows of {@code groups}, read one row group at a time. */
    static TrainingData of(Configuration conf, List<TokenizedParquet.RowGroup> groups) {
        return new RowGroupData(groups, group -> TokenizedParquet.read(conf, group));
    }

    /** Rows in one pass. */
    long rows();

    /** Rows of {@code epoch} in their shuffled order, after the first {@code skip}. */
    Iterator<TokenizedRow> epoch(long seed, int epoch, long skip);

    /**
     * What each rank of a data-parallel run on {@code worldSize} ranks reads in {@code epoch}, in rank order: a
     * deterministic function of ({@code seed}, {@code epoch}, {@code worldSize}), so every rank computes the same
     * list from metadata alone and reads only its own entry. The shares are disjoint and together hold every row;
     * on one rank the only share is this data itself.
     */
    List<TrainingData> shards(long seed, int epoch, int worldSize);
}
