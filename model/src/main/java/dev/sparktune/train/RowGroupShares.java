package dev.sparktune.train;

import dev.sparktune.io.TokenizedParquet.RowGroup;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Whole row groups dealt to the ranks of a data-parallel run, balanced by rows. The groups are put in a seeded
 * random order, then dealt largest first (a stable sort: equal sizes keep the seeded order), each to the part with
 * the fewest rows so far, ties to the lowest part: Graham's greedy LPT rule, which leaves parts that differ by at most
 * the rows of one group. Each part keeps its groups in file order.
 *
 * <p>Epoch e gives rank r part (r + e) mod N. The parts themselves never change, so every rank agrees on the
 * smallest one, and so on the length of every epoch, without talking to the others; a rank reads a different part
 * each epoch, and the whole data over N epochs.
 */
final class RowGroupShares {
    /** Keys the partition's generator apart from the run's other seeded streams. */
    private static final long PARTITION_STREAM = 0x5368617264L;

    private RowGroupShares() {
    }

    /** The {@code worldSize} parts, for a run seeded with {@code seed}; a part is empty when there are too few groups. */
    static List<List<RowGroup>> balanced(List<RowGroup> groups, long seed, int worldSize) {
        if (worldSize < 1) {
            throw new IllegalArgumentException("world size must be >= 1, got " + worldSize);
        }
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            order.add(i);
        }
        SeededRandom.of(seed, PARTITION_STREAM, worldSize).shuffle(order);
        order.sort(Comparator.comparingLong((Integer i) -> groups.get(i).rows()).reversed());
        long[] rows = new long[worldSize];
        List<List<Integer>> parts = new ArrayList<>();
        for (int p = 0; p < worldSize; p++) {
            parts.add(new ArrayList<>());
        }
        for (int g : order) {
            int smallest = 0;
            for (int p = 1; p < worldSize; p++) {
                if (rows[p] < rows[smallest]) {
                    smallest = p;
                }
            }
            parts.get(smallest).add(g);
            rows[smallest] += groups.get(g).rows();
        }
        List<List<RowGroup>> out = new ArrayList<>();
        for (List<Integer> part : parts) {
            out.add(part.stream().sorted().map(groups::get).toList());
        }
        return out;
    }

    /** The part rank {@code rank} reads in {@code epoch}. */
    static int part(int rank, int epoch, int worldSize) {
        return Math.floorMod(rank + epoch, worldSize);
    }
}
