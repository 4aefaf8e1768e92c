package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The reference order of a data-parallel run, as one rank's data: epoch e yields, micro-batch after micro-batch,
 * rank 0's next {@code perRank} rows, then rank 1's, and so on, each from that rank's share of {@code data} in
 * epoch e ({@link TrainingData#shards}), and stops where the ranks stop, after the smallest share's whole
 * micro-batches. One rank with micro-batches of {@code worldSize x perRank} rows over this view trains on the rows
 * that {@code worldSize} ranks with {@code perRank} rows each train on, grouped in the same micro-batches.
 */
public final class InterleavedShards implements TrainingData {
    private final TrainingData data;
    private final long runSeed;
    private final int worldSize;
    private final int perRank;

    /** {@code runSeed}: the run's {@code seed}, which deals the row groups to the ranks. */
    public InterleavedShards(TrainingData data, long runSeed, int worldSize, int perRank) {
        this.data = data;
        this.runSeed = runSeed;
        this.worldSize = worldSize;
        this.perRank = perRank;
    }

    /** Micro-batches each rank takes in {@code epoch}: as many as the smallest share holds. */
    private long units(List<TrainingData> shards) {
        return shards.stream().mapToLong(TrainingData::rows).min().orElseThrow() / perRank;
    }

    @Override
    public long rows() {
        return units(data.shards(runSeed, 0, worldSize)) * worldSize * perRank;
    }

    @Override
    public Iterator<TokenizedRow> epoch(long seed, int epoch, long skip) {
        List<TrainingData> shards = data.shards(runSeed, epoch, worldSize);
        List<Iterator<TokenizedRow>> streams = new ArrayList<>();
        shards.forEach(s -> streams.add(s.epoch(seed, epoch, 0)));
        List<TokenizedRow> rows = new ArrayList<>();
        for (long u = 0; u < units(shards); u++) {
            for (Iterator<TokenizedRow> stream : streams) {
                for (int i = 0; i < perRank; i++) {
                    rows.add(stream.next());
                }
            }
        }
        if (rows.size() != rows()) {
            throw new IllegalStateException("epoch " + epoch + " has " + rows.size() + " rows, epoch 0 " + rows());
        }
        return rows.subList((int) skip, rows.size()).iterator();
    }

    /** A reference for one rank only. */
    @Override
    public List<TrainingData> shards(long seed, int epoch, int ranks) {
        if (ranks != 1) {
            throw new IllegalArgumentException("the interleaved reference is one rank's data, not " + ranks + " ranks'");
        }
        return List.of(this);
    }
}
