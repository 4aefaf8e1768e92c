package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class TimedCollectiveTest {

    @Test
    void countsTheTimeARankWaitsInCallsAndPassesResultsThrough() {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(60));
        try {
            assertTimedAndPassedThrough(group);
        } finally {
            group.forEach(Collective::close);
        }
    }

    private static void assertTimedAndPassedThrough(List<Collective> group) {
        List<double[]> timedAndResult = RankThreads.all(group, collective -> {
            TimedCollective timed = new TimedCollective(collective);
            float[] values = {collective.rank() + 1, 10};
            if (collective.rank() == 1) {
                sleep(300);   // rank 0 waits for rank 1 inside its all-reduce
            }
            timed.allReduce(values, 0, 2, Reduction.SUM);
            timed.barrier();
            return new double[] {timed.seconds(), values[0], values[1]};
        });

        assertArrayEquals(new double[] {3, 20}, new double[] {timedAndResult.get(0)[1], timedAndResult.get(0)[2]});
        assertArrayEquals(new double[] {3, 20}, new double[] {timedAndResult.get(1)[1], timedAndResult.get(1)[2]});
        assertTrue(timedAndResult.get(0)[0] >= 0.25, "rank 0 waited in the all-reduce: " + timedAndResult.get(0)[0]);
        assertTrue(timedAndResult.get(1)[0] < 0.25, "rank 1 came last and hardly waited: " + timedAndResult.get(1)[0]);
    }

    @Test
    void beforeAnyCallItHasCountedNothing() {
        try (TimedCollective timed = new TimedCollective(InProcessCollective.group(1, Duration.ofSeconds(1)).get(0))) {
            assertEquals(0.0, timed.seconds());
            assertEquals(0, timed.rank());
            assertEquals(1, timed.worldSize());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
