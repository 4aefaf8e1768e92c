package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

/** Micro-batches of a multi-task epoch, over tokenized Parquet the test writes. */
class MicroBatchesTest {
    private static final Objective LM = new Objective.CausalLm(CausalLmLoss.FLOAT32);

    @TempDir
    Path dir;

    /** A task whose row r holds the single token {@code base + r}, so a row tells which task and row it is. */
    private TrainingTask task(String name, int rows, long base) {
        List<TokenizedRow> data = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            data.add(new TokenizedRow(new long[] {base + r}, null, null, null, null));
        }
        Configuration conf = new Configuration();
        String file = dir.resolve(name + "/part-0.parquet").toString();
        TokenizedParquet.write(conf, file, data, 64);    // several row groups
        return new TrainingTask(name, TrainingData.open(conf, dir.resolve(name).toString()), LM);
    }

    private static List<Long> ids(List<MicroBatches.MicroBatch> batches) {
        List<Long> out = new ArrayList<>();
        batches.forEach(b -> b.rows().forEach(r -> out.add(r.inputIds()[0])));
        return out;
    }

    private static List<MicroBatches.MicroBatch> rest(MicroBatches batches) {
        List<MicroBatches.MicroBatch> out = new ArrayList<>();
        batches.forEachRemaining(out::add);
        return out;
    }

    @Test
    void aMicroBatchHoldsRowsOfOneTaskAndEachPassTakesEveryWholeBatchOnce() {
        List<TrainingTask> tasks = List.of(task("a", 23, 1000), task("b", 9, 2000));
        MicroBatches batches = new MicroBatches(tasks, TaskMix.concat(), 7, 0, 4);
        List<MicroBatches.MicroBatch> all = rest(batches);

        assertEquals(5 + 2, all.size(), "23 rows make 5 micro-batches of 4, 9 rows make 2");
        assertEquals(all.size(), new MicroBatches(tasks, TaskMix.concat(), 7, 0, 4).length());
        for (MicroBatches.MicroBatch b : all) {
            long base = b.task() == 0 ? 1000 : 2000;
            b.rows().forEach(r -> assertEquals(base, r.inputIds()[0] / 1000 * 1000, "a micro-batch mixes tasks"));
        }
        List<Long> ids = ids(all);
        assertEquals(ids.size(), new HashSet<>(ids).size(), "concat takes no row twice in an epoch");
    }

    @Test
    void skippingTheFirstMicroBatchesContinuesExactlyAsTheUninterruptedEpoch() {
        List<TrainingTask> tasks = List.of(task("a", 40, 1000), task("b", 12, 2000), task("c", 20, 3000));
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(0.5, 0.3, 0.2), 0);
        List<MicroBatches.MicroBatch> whole = rest(new MicroBatches(tasks, mix, 11, 3, 4));
        assertTrue(whole.size() > 10);
        for (int k : new int[] {0, 1, 5, whole.size() - 1}) {
            MicroBatches resumed = new MicroBatches(tasks, mix, 11, 3, 4);
            resumed.skip(k);
            assertEquals(k, resumed.position());
            assertEquals(ids(whole.subList(k, whole.size())), ids(rest(resumed)), "resumed after " + k);
        }
        MicroBatches tooFar = new MicroBatches(tasks, mix, 11, 3, 4);
        assertThrows(IllegalArgumentException.class, () -> tooFar.skip(whole.size() + 1));
    }

    @Test
    void aTaskThatIsUsedUpStartsANewPassInAFreshOrder() {
        // b has 2 micro-batches and must keep up with a's 10 under interleave_over: it runs several passes
        List<TrainingTask> tasks = List.of(task("a", 40, 1000), task("b", 8, 2000));
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(), 0);    // round robin
        List<MicroBatches.MicroBatch> all = rest(new MicroBatches(tasks, mix, 5, 0, 4));
        List<List<Long>> passes = new ArrayList<>();
        List<Long> current = new ArrayList<>();
        for (MicroBatches.MicroBatch b : all) {
            if (b.task() == 1) {
                b.rows().forEach(r -> current.add(r.inputIds()[0]));
                if (current.size() == 8) {
                    passes.add(new ArrayList<>(current));
                    current.clear();
                }
            }
        }
        assertEquals(5, passes.size(), "10 rounds of round robin take b's 2 micro-batches 5 times over");
        Set<List<Long>> orders = new HashSet<>();
        for (List<Long> pass : passes) {
            assertEquals(Set.of(2000L, 2001L, 2002L, 2003L, 2004L, 2005L, 2006L, 2007L), new HashSet<>(pass));
            orders.add(pass);
        }
        assertTrue(orders.size() > 1, "every pass in the same order: " + passes);
        assertNotEquals(ids(all), ids(rest(new MicroBatches(tasks, mix, 5, 1, 4))), "the next epoch reshuffles");
    }

    /** A task whose row r has 1 + (r * 7 % 31) tokens, the first being base + r. */
    private TrainingTask varyingLengths(String name, int rows, long base) {
        List<TokenizedRow> data = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            long[] ids = new long[1 + r * 7 % 31];
            ids[0] = base + r;
            data.add(new TokenizedRow(ids, null, null, null, null));
        }
        Configuration conf = new Configuration();
        TokenizedParquet.write(conf, dir.resolve(name + "/part-0.parquet").toString(), data, 256);
        return new TrainingTask(name, TrainingData.open(conf, dir.resolve(name).toString()), LM);
    }

    private static long padding(List<MicroBatches.MicroBatch> batches) {
        long pad = 0;
        for (MicroBatches.MicroBatch b : batches) {
            int longest = b.rows().stream().mapToInt(r -> r.inputIds().length).max().orElse(0);
            pad += b.rows().stream().mapToLong(r -> longest - r.inputIds().length).sum();
        }
        return pad;
    }

    @Test
    void groupingByLengthTakesTheSameRowsWithLessPaddingAndResumesExactly() {
        List<TrainingTask> tasks = List.of(varyingLengths("a", 480, 1000), varyingLengths("b", 130, 5000));
        // concat takes each task's whole pass once, so both orders hold exactly the same rows
        List<MicroBatches.MicroBatch> plain = rest(new MicroBatches(tasks, TaskMix.concat(), 3, 0, 4, false));
        List<MicroBatches.MicroBatch> grouped = rest(new MicroBatches(tasks, TaskMix.concat(), 3, 0, 4, true));

        assertEquals(plain.stream().map(MicroBatches.MicroBatch::task).toList(),
                grouped.stream().map(MicroBatches.MicroBatch::task).toList(), "the same task sequence");
        List<Long> plainIds = new ArrayList<>(ids(plain));
        List<Long> groupedIds = new ArrayList<>(ids(grouped));
        plainIds.sort(null);
        groupedIds.sort(null);
        assertEquals(plainIds, groupedIds, "the same rows, as often");
        System.out.printf("padding tokens over an epoch: %d in shuffled order, %d grouped by length%n",
                padding(plain), padding(grouped));
        assertTrue(padding(grouped) < padding(plain) / 3, "grouping must cut padding");

        // a resume in the middle of a megabatch, and of a later pass of a task that interleave_over repeats
        TaskMix mix = new TaskMix(MixStrategy.INTERLEAVE_OVER, List.of(0.7, 0.3), 0);
        List<MicroBatches.MicroBatch> whole = rest(new MicroBatches(tasks, mix, 3, 0, 4, true));
        for (int k : new int[] {1, 49, 50, 51, 120, whole.size() - 1}) {
            MicroBatches resumed = new MicroBatches(tasks, mix, 3, 0, 4, true);
            resumed.skip(k);
            assertEquals(ids(whole.subList(k, whole.size())), ids(rest(resumed)), "resumed after " + k);
        }
    }

    @Test
    void aTaskSmallerThanOneMicroBatchIsNamed() {
        List<TrainingTask> tasks = List.of(task("big", 40, 1000), task("tiny", 3, 2000));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MicroBatches(tasks, TaskMix.concat(), 1, 0, 4));
        assertTrue(e.getMessage().contains("'tiny'") && e.getMessage().contains("3 rows"), e.getMessage());
    }
}
