package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each rank of a data-parallel run builds its micro-batches from its own share of the row groups: it decodes no other
 * group, the shares of an epoch hold every group once, they change from epoch to epoch, and every rank takes the same
 * number of micro-batches of each task, so the ranks' task plans agree.
 */
class MicroBatchesShardingTest {
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT32);
    private static final long SEED = 17;
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    /** One file, so one row group, per size; row r of group g holds the token {@code base + 1000 g + r}. */
    private List<TokenizedParquet.RowGroup> write(String name, long base, int... sizes) {
        for (int g = 0; g < sizes.length; g++) {
            List<TokenizedRow> rows = new ArrayList<>();
            for (int r = 0; r < sizes[g]; r++) {
                rows.add(new TokenizedRow(new long[] {base + 1000L * g + r}, null, null, null, null));
            }
            TokenizedParquet.write(CONF, dir.resolve(name + "/part-%03d.parquet".formatted(g)).toString(), rows, 1 << 16);
        }
        List<TokenizedParquet.RowGroup> groups = TokenizedParquet.rowGroups(CONF, dir.resolve(name).toString());
        assertEquals(sizes.length, groups.size(), "one row group per file");
        return groups;
    }

    /** The row group a row came from, by its token. */
    private static int group(TokenizedRow row, long base) {
        return (int) ((row.inputIds()[0] - base) / 1000);
    }

    /** Data over {@code groups} that records, per rank, the index of each group it decodes. */
    private static TrainingData counted(List<TokenizedParquet.RowGroup> groups, List<Integer> decoded) {
        return new RowGroupData(groups, g -> {
            decoded.add(groups.indexOf(g));
            return TokenizedParquet.read(CONF, g);
        });
    }

    private static Set<Integer> indices(TrainingData share, List<TokenizedParquet.RowGroup> all) {
        Set<Integer> out = new HashSet<>();
        ((RowGroupData) share).groups().forEach(g -> out.add(all.indexOf(g)));
        return out;
    }

    private static List<MicroBatches.MicroBatch> rest(MicroBatches batches) {
        List<MicroBatches.MicroBatch> out = new ArrayList<>();
        batches.forEachRemaining(out::add);
        return out;
    }

    @Test
    void eachRankDecodesOnlyItsShareAndTheSharesOfAnEpochHoldEveryGroupOnce() {
        int[] sizes = {9, 4, 12, 7, 3, 10, 6, 8, 5, 11, 4, 7, 9};
        List<TokenizedParquet.RowGroup> groups = write("varied", 0, sizes);
        int largest = 12;
        int batch = 3;
        for (int ranks : new int[] {2, 3, 4}) {
            List<List<Set<Integer>>> sharesByEpoch = new ArrayList<>();
            for (int epoch = 0; epoch <= ranks; epoch++) {
                List<Set<Integer>> shares = new ArrayList<>();
                long smallest = Long.MAX_VALUE;
                long biggest = 0;
                Set<Integer> union = new HashSet<>();
                for (TrainingData share : TrainingData.of(CONF, groups).shards(SEED, epoch, ranks)) {
                    Set<Integer> own = indices(share, groups);
                    own.forEach(g -> assertTrue(union.add(g), "group " + g + " is in two shares"));
                    shares.add(own);
                    smallest = Math.min(smallest, share.rows());
                    biggest = Math.max(biggest, share.rows());
                }
                String where = ranks + " ranks, epoch " + epoch;
                assertEquals(sizes.length, union.size(), where + ": every group in some share");
                assertTrue(biggest - smallest <= largest, where + ": shares of " + smallest + " to " + biggest + " rows");
                sharesByEpoch.add(shares);

                List<Integer> plan = null;
                for (int rank = 0; rank < ranks; rank++) {
                    List<Integer> decoded = new ArrayList<>();
                    TrainingTask task = new TrainingTask("varied", counted(groups, decoded), LM);
                    List<MicroBatches.MicroBatch> batches = rest(new MicroBatches(List.of(task), TaskMix.concat(), SEED,
                            epoch, batch, false, rank, ranks));
                    assertEquals(smallest / batch, batches.size(), where + ", rank " + rank + ": the smallest share's"
                            + " whole micro-batches");
                    assertTrue(shares.get(rank).containsAll(decoded), where + ", rank " + rank + " decoded " + decoded
                            + ", its share is " + shares.get(rank));
                    assertEquals(decoded.size(), new HashSet<>(decoded).size(), "a group decoded twice: " + decoded);
                    Set<TokenizedRow> seen = new HashSet<>();
                    for (MicroBatches.MicroBatch b : batches) {
                        assertEquals(batch, b.rows().size());
                        for (TokenizedRow row : b.rows()) {
                            assertTrue(shares.get(rank).contains(group(row, 0)), "a row of another rank's group");
                            assertTrue(seen.add(row), "a row taken twice in an epoch");
                        }
                    }
                    List<Integer> tasks = batches.stream().map(MicroBatches.MicroBatch::task).toList();
                    assertTrue(plan == null || plan.equals(tasks), where + ": the ranks' task plans differ");
                    plan = tasks;
                }
            }
            for (int rank = 0; rank < ranks; rank++) {
                assertNotEquals(sharesByEpoch.get(0).get(rank), sharesByEpoch.get(1).get(rank),
                        ranks + " ranks: rank " + rank + " reads the same groups in epochs 0 and 1");
                Set<Integer> overEpochs = new HashSet<>();
                for (int epoch = 0; epoch < ranks; epoch++) {
                    overEpochs.addAll(sharesByEpoch.get(epoch).get(rank));
                }
                assertEquals(sizes.length, overEpochs.size(), "rank " + rank + " reads every group over " + ranks
                        + " epochs");
            }
        }
    }

    @Test
    void withEqualSharesTheRanksTogetherDecodeEveryGroupOnceAnEpoch() {
        List<TokenizedParquet.RowGroup> groups = write("equal", 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6);
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Integer> decoded = new ArrayList<>();
            for (int rank = 0; rank < 4; rank++) {
                List<Integer> byRank = new ArrayList<>();
                TrainingTask task = new TrainingTask("equal", counted(groups, byRank), LM);
                List<MicroBatches.MicroBatch> batches = rest(new MicroBatches(List.of(task), TaskMix.concat(), SEED,
                        epoch, 3, false, rank, 4));
                assertEquals(6, batches.size(), "3 groups of 6 rows make 6 micro-batches of 3");
                assertEquals(3, byRank.size(), "rank " + rank + " decodes its 3 groups: " + byRank);
                decoded.addAll(byRank);
            }
            decoded.sort(null);
            assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), decoded, "epoch " + epoch);
        }
    }

    @Test
    void oneRanksShareIsTheWholeData() {
        TrainingData data = TrainingData.of(CONF, write("one", 0, 5, 7));
        assertSame(data, data.shards(SEED, 3, 1).get(0));
        assertEquals(1, data.shards(SEED, 3, 1).size());
    }

    @Test
    void interleavingTheRanksMicroBatchesGivesOneRanksMicroBatchesOverTheReference() {
        // two tasks under interleave_over: the small one runs several passes, each in a fresh order, on every rank
        TrainingData big = TrainingData.of(CONF, write("big", 0, 9, 4, 12, 7, 3, 10, 6, 8, 5, 11));
        TrainingData small = TrainingData.of(CONF, write("small", 100_000, 5, 6, 4, 7, 5, 6));
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(0.7, 0.3), 0);
        int ranks = 3;
        int batch = 2;
        for (int epoch = 0; epoch < 2; epoch++) {
            List<List<MicroBatches.MicroBatch>> byRank = new ArrayList<>();
            for (int rank = 0; rank < ranks; rank++) {
                byRank.add(rest(new MicroBatches(List.of(new TrainingTask("big", big, LM),
                        new TrainingTask("small", small, LM)), mix, SEED, epoch, batch, false, rank, ranks)));
            }
            List<MicroBatches.MicroBatch> reference = rest(new MicroBatches(List.of(
                    new TrainingTask("big", new InterleavedShards(big, SEED, ranks, batch), LM),
                    new TrainingTask("small", new InterleavedShards(small, SEED, ranks, batch), LM)),
                    mix, SEED, epoch, ranks * batch));
            assertTrue(reference.size() > 10, reference.size() + " micro-batches");
            for (int i = 0; i < reference.size(); i++) {
                List<TokenizedRow> sideBySide = new ArrayList<>();
                for (int rank = 0; rank < ranks; rank++) {
                    MicroBatches.MicroBatch own = byRank.get(rank).get(i);
                    assertEquals(reference.get(i).task(), own.task(), "epoch " + epoch + ", micro-batch " + i);
                    sideBySide.addAll(own.rows());
                }
                assertEquals(reference.get(i).rows(), sideBySide, "epoch " + epoch + ", micro-batch " + i);
            }
            for (int rank = 0; rank < ranks; rank++) {
                assertEquals(reference.size(), byRank.get(rank).size(), "rank " + rank);
            }
        }
    }

    @Test
    void aRankResumedInTheMiddleOfAnEpochContinuesExactly() {
        TrainingData data = TrainingData.of(CONF, write("resume", 0, 9, 4, 12, 7, 3, 10, 6, 8, 5, 11));
        TrainingTask task = new TrainingTask("resume", data, LM);
        List<MicroBatches.MicroBatch> whole = rest(new MicroBatches(List.of(task), TaskMix.concat(), SEED, 2, 2, true, 1, 3));
        for (int k : new int[] {1, 5, whole.size() - 1}) {
            MicroBatches resumed = new MicroBatches(List.of(task), TaskMix.concat(), SEED, 2, 2, true, 1, 3);
            resumed.skip(k);
            assertEquals(whole.subList(k, whole.size()), rest(resumed), "resumed after " + k);
        }
    }

    @Test
    void aShareSmallerThanOneMicroBatchIsAnErrorNamingTheTaskTheRanksAndWhatToChange() {
        TrainingTask task = new TrainingTask("tiny", TrainingData.of(CONF, write("tiny", 0, 20, 20, 20)), LM);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MicroBatches(List.of(task), TaskMix.concat(), SEED, 0, 4, false, 0, 4));
        String m = e.getMessage();
        assertTrue(m.contains("'tiny'") && m.contains("4 ranks") && m.contains("0 rows") && m.contains("row groups")
                && m.contains("dist.world_size"), m);
    }
}
