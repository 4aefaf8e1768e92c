package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.DataConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class TaskMixerTest {
    private static final long SEED = 42;

    private static List<Task> tasks(int... rows) {
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < rows.length; i++) {
            tasks.add(new Task("task" + i, rows[i]));
        }
        return tasks;
    }

    private static List<Draw> all(EpochPlan plan) {
        List<Draw> draws = new ArrayList<>();
        plan.forEachRemaining(draws::add);
        return draws;
    }

    private static double[] frequencies(EpochPlan plan, int tasks, int draws) {
        double[] counts = new double[tasks];
        for (int i = 0; i < draws; i++) {
            counts[plan.next().task()]++;
        }
        return Arrays.stream(counts).map(c -> c / draws).toArray();
    }

    private static void assertWithin(double[] expected, double[] observed, double tolerance) {
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - observed[i]) <= tolerance,
                    "task " + i + ": expected " + Arrays.toString(expected) + ", observed " + Arrays.toString(observed));
        }
    }

    private static int[] counts(List<Draw> draws, int tasks) {
        int[] counts = new int[tasks];
        draws.forEach(d -> counts[d.task()]++);
        return counts;
    }

    @Test
    void interleaveProbsAreTheObservedFrequencies() {
        List<Double> probs = List.of(0.5, 0.3, 0.2);
        TaskMixer mixer = TaskMixer.interleave(tasks(100_000, 100_000, 100_000), MixStrategy.INTERLEAVE_UNDER, probs);
        for (long epoch = 0; epoch < 3; epoch++) {
            assertWithin(new double[] {0.5, 0.3, 0.2}, frequencies(mixer.plan(SEED, epoch), 3, 10_000), 0.02);
        }
        double[] skewed = frequencies(TaskMixer.interleave(tasks(100_000, 100_000), MixStrategy.INTERLEAVE_OVER,
                List.of(0.9, 0.1)).plan(SEED, 0), 2, 10_000);
        assertWithin(new double[] {0.9, 0.1}, skewed, 0.02);
    }

    @Test
    void temperatureSamplingFollowsSizeToTheOneOverT() {
        int[] rows = {60_000, 15_000, 3_000};
        for (double t : new double[] {1, 2, 5, 1000}) {
            double[] expected = Arrays.stream(rows).mapToDouble(n -> Math.pow(n, 1 / t)).toArray();
            double sum = Arrays.stream(expected).sum();
            expected = Arrays.stream(expected).map(w -> w / sum).toArray();

            TaskMixer mixer = TaskMixer.byTemperature(tasks(rows), MixStrategy.INTERLEAVE_OVER, t);
            assertWithin(expected, mixer.probabilities().orElseThrow(), 1e-12);
            assertWithin(expected, frequencies(mixer.plan(SEED, 0), 3, 10_000), 0.02);
        }
        // T = 1 is proportional to size; a large T is close to uniform
        assertWithin(new double[] {60 / 78.0, 15 / 78.0, 3 / 78.0},
                TaskMixer.byTemperature(tasks(rows), MixStrategy.INTERLEAVE_UNDER, 1).probabilities().orElseThrow(), 1e-12);
        assertWithin(new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0},
                TaskMixer.byTemperature(tasks(rows), MixStrategy.INTERLEAVE_UNDER, 1000).probabilities().orElseThrow(), 0.002);
    }

    @Test
    void theMixIsFixedBySeedAndResampledEachEpoch() {
        for (TaskMixer mixer : List.of(
                TaskMixer.concat(tasks(300, 200)),
                TaskMixer.interleave(tasks(300, 200), MixStrategy.INTERLEAVE_UNDER, List.of(0.4, 0.6)),
                TaskMixer.byTemperature(tasks(300, 200), MixStrategy.INTERLEAVE_OVER, 2))) {
            List<Draw> epoch0 = all(mixer.plan(SEED, 0));
            assertEquals(epoch0, all(mixer.plan(SEED, 0)), mixer.strategy().key());
            assertNotEquals(epoch0, all(mixer.plan(SEED, 1)), mixer.strategy().key());
            assertNotEquals(epoch0, all(mixer.plan(SEED + 1, 0)), mixer.strategy().key());
        }
    }

    @Test
    void concatTakesEveryRowOnceInAShuffledOrder() {
        TaskMixer mixer = TaskMixer.concat(tasks(700, 300));
        EpochPlan plan = mixer.plan(SEED, 0);
        assertEquals(1000, plan.length());
        List<Draw> draws = all(plan);
        assertEquals(1000, draws.size());
        assertEquals(1000, new HashSet<>(draws).size());
        assertArrayEquals(new int[] {700, 300}, counts(draws, 2));
        // shuffled together: task 1 shows up among the first 100 draws, not only after task 0's 700
        assertTrue(draws.subList(0, 100).stream().anyMatch(d -> d.task() == 1));
        List<Integer> rows0 = draws.stream().filter(d -> d.task() == 0).map(Draw::row).toList();
        assertNotEquals(IntStream.range(0, 700).boxed().toList(), rows0);
    }

    /** A shuffled concatenation is a uniformly random order of all rows: each of the 3! orders of 2 + 1 rows equally often. */
    @Test
    void concatOrderIsAUniformPermutation() {
        TaskMixer mixer = TaskMixer.concat(tasks(2, 1));
        Map<List<Draw>, Integer> orders = new HashMap<>();
        int epochs = 12_000;
        for (int epoch = 0; epoch < epochs; epoch++) {
            orders.merge(all(mixer.plan(SEED, epoch)), 1, Integer::sum);
        }
        assertEquals(6, orders.size());
        orders.values().forEach(n -> assertEquals(1 / 6.0, n / (double) epochs, 0.02, orders.toString()));
    }

    @Test
    void roundRobinPlansHaveWholeRounds() {
        List<Draw> under = all(TaskMixer.interleave(tasks(3, 5), MixStrategy.INTERLEAVE_UNDER).plan(SEED, 0));
        assertEquals(List.of(0, 1, 0, 1, 0, 1), under.stream().map(Draw::task).toList());
        assertEquals(6, TaskMixer.interleave(tasks(5, 3), MixStrategy.INTERLEAVE_UNDER).plan(SEED, 0).length());
        assertEquals(3 * 4, TaskMixer.interleave(tasks(4, 7, 5), MixStrategy.INTERLEAVE_UNDER).plan(SEED, 0).length());

        List<Draw> over = all(TaskMixer.interleave(tasks(5, 3), MixStrategy.INTERLEAVE_OVER).plan(SEED, 0));
        assertEquals(10, over.size());
        assertArrayEquals(new int[] {5, 5}, counts(over, 2));
        assertEquals(10, TaskMixer.interleave(tasks(3, 5), MixStrategy.INTERLEAVE_OVER).plan(SEED, 0).length());
        assertEquals(3 * 7, TaskMixer.interleave(tasks(4, 7, 5), MixStrategy.INTERLEAVE_OVER).plan(SEED, 0).length());
        // the small task starts over with a fresh order: its first 3 draws are rows 0..2, then 2 of a new pass
        List<Integer> task1 = over.stream().filter(d -> d.task() == 1).map(Draw::row).toList();
        assertEquals(Set.of(0, 1, 2), new HashSet<>(task1.subList(0, 3)));
    }

    @Test
    void interleaveUnderStopsWhenTheFirstTaskRunsOut() {
        int[] rows = {400, 250, 900};
        for (long epoch = 0; epoch < 20; epoch++) {
            EpochPlan plan = TaskMixer.interleave(tasks(rows), MixStrategy.INTERLEAVE_UNDER, List.of(0.3, 0.3, 0.4)).plan(SEED, epoch);
            List<Draw> draws = all(plan);
            assertEquals(draws.size(), plan.length());
            int[] counts = counts(draws, 3);
            int last = draws.get(draws.size() - 1).task();
            assertEquals(rows[last], counts[last], "the last draw used up its task");
            for (int i = 0; i < 3; i++) {
                assertTrue(counts[i] <= rows[i], "no task is oversampled: " + Arrays.toString(counts));
            }
            assertEquals(draws.size(), new HashSet<>(draws).size(), "no row twice");
        }
    }

    @Test
    void interleaveOverStopsWhenTheLastTaskIsUsedUp() {
        int[] rows = {400, 250, 900};
        for (long epoch = 0; epoch < 20; epoch++) {
            EpochPlan plan = TaskMixer.interleave(tasks(rows), MixStrategy.INTERLEAVE_OVER, List.of(0.3, 0.3, 0.4)).plan(SEED, epoch);
            List<Draw> draws = all(plan);
            assertEquals(draws.size(), plan.length());
            int[] counts = counts(draws, 3);
            int last = draws.get(draws.size() - 1).task();
            assertEquals(rows[last], counts[last], "the last draw used up the last task not yet used up");
            for (int i = 0; i < 3; i++) {
                assertTrue(counts[i] >= rows[i], "every task is used up: " + Arrays.toString(counts));
            }
            // each pass over a task is a permutation of its rows
            for (int t = 0; t < 3; t++) {
                int task = t;
                List<Integer> taskRows = draws.stream().filter(d -> d.task() == task).map(Draw::row).toList();
                for (int from = 0; from + rows[t] <= taskRows.size(); from += rows[t]) {
                    assertEquals(rows[t], new HashSet<>(taskRows.subList(from, from + rows[t])).size());
                }
            }
        }
    }

    @Test
    void skippingResumesTheSamePlan() {
        TaskMixer mixer = TaskMixer.interleave(tasks(500, 300), MixStrategy.INTERLEAVE_OVER, List.of(0.5, 0.5));
        List<Draw> straight = all(mixer.plan(SEED, 2));
        EpochPlan resumed = mixer.plan(SEED, 2);
        resumed.skip(123);
        assertEquals(123, resumed.position());
        assertEquals(straight.subList(123, straight.size()), all(resumed));
        assertEquals(straight.size(), resumed.position());
        assertFalse(resumed.hasNext());
        assertThrows(IllegalArgumentException.class, () -> mixer.plan(SEED, 2).skip(straight.size() + 1));
    }

    @Test
    void fromConfigReadsMixStrategyAndInterleaveProbs() {
        DataConfig interleaved = new DataConfig(List.of("a", "b"), List.of(), "data", "dataset_info.yaml", null, 1024,
                0.0, false, false, "interleave_over", List.of(0.25, 0.75), null, null, 1_048_576L);
        TaskMixer mixer = TaskMixer.fromConfig(interleaved, tasks(10, 10));
        assertEquals(MixStrategy.INTERLEAVE_OVER, mixer.strategy());
        assertArrayEquals(new double[] {0.25, 0.75}, mixer.probabilities().orElseThrow(), 1e-12);

        DataConfig concat = new DataConfig(List.of("a", "b"), List.of(), "data", "dataset_info.yaml", null, 1024,
                0.0, false, false, "concat", List.of(), null, null, 1_048_576L);
        assertEquals(MixStrategy.CONCAT, TaskMixer.fromConfig(concat, tasks(10, 10)).strategy());
        assertTrue(TaskMixer.fromConfig(concat, tasks(10, 10)).probabilities().isEmpty());
    }

    @Test
    void impossibleMixesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> TaskMixer.interleave(tasks(10, 10), MixStrategy.CONCAT, List.of(0.5, 0.5)));
        assertThrows(IllegalArgumentException.class,
                () -> TaskMixer.interleave(tasks(10, 10), MixStrategy.INTERLEAVE_UNDER, List.of(1.0)));
        assertThrows(IllegalArgumentException.class,
                () -> TaskMixer.interleave(tasks(10, 10), MixStrategy.INTERLEAVE_UNDER, List.of(0.5, 0.6)));
        IllegalArgumentException never = assertThrows(IllegalArgumentException.class,
                () -> TaskMixer.interleave(tasks(10, 10), MixStrategy.INTERLEAVE_OVER, List.of(1.0, 0.0)));
        assertTrue(never.getMessage().contains("task1"), never.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Task("empty", 0));
        assertThrows(IllegalArgumentException.class, () -> MixStrategy.of("interleave"));
        // a task with probability 0 is simply never drawn when undersampling
        assertArrayEquals(new int[] {10, 0}, counts(all(TaskMixer.interleave(tasks(10, 10),
                MixStrategy.INTERLEAVE_UNDER, List.of(1.0, 0.0)).plan(SEED, 0)), 2));
    }
}
