package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class InProcessCollectiveTest extends CollectiveContractTest {

    @Override
    protected List<Collective> open(int n) {
        return InProcessCollective.group(n, Duration.ofSeconds(60));
    }

    @Test
    void aBarrierWithItsOwnTimeoutWaitsPastTheGroupTimeout() {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(1));
        List<Boolean> passed = RankThreads.all(group, c -> {
            try {
                if (c.rank() == 0) {
                    Thread.sleep(2500);
                }
                c.barrier(Duration.ofSeconds(30));
                c.barrier();                    // the group is still usable, with its own timeout
                return true;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertEquals(List.of(true, true), passed);
    }

    @Test
    void closingOneMemberFailsTheOthersPendingCalls() {
        List<Collective> group = InProcessCollective.group(3, Duration.ofSeconds(60));
        long start = System.nanoTime();
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(group, c -> {
            if (c.rank() == 2) {
                sleep(200);
                c.close();
                return null;
            }
            c.allReduce(new float[10], 0, 10, Reduction.SUM);
            return null;
        }, Duration.ofSeconds(30));
        assertTrue(System.nanoTime() - start < 30_000_000_000L);
        for (int r = 0; r < 2; r++) {
            Throwable failure = outcomes.get(r).failure();
            assertInstanceOf(CollectiveException.class, failure);
            assertTrue(failure.getMessage().contains("rank 2 closed"), failure.getMessage());
        }
        assertNull(outcomes.get(2).failure());
        // the group stays broken
        assertThrows(CollectiveException.class, () -> group.get(0).barrier());
    }

    @Test
    void aRankThatNeverComesTimesOutAndIsNamed() {
        List<Collective> group = InProcessCollective.group(3, Duration.ofMillis(300));
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(group, c -> {
            if (c.rank() != 1) {
                c.barrier();
            }
            return null;
        }, Duration.ofSeconds(30));
        Throwable first = outcomes.get(0).failure() != null ? outcomes.get(0).failure() : outcomes.get(2).failure();
        assertNotNull(first);
        assertTrue(first.getMessage().contains("[1]"), first.getMessage());
        assertInstanceOf(CollectiveException.class, outcomes.get(0).failure());
        assertInstanceOf(CollectiveException.class, outcomes.get(2).failure());
    }

    @Test
    void ranksCallingDifferentOperationsFail() {
        List<Collective> group = InProcessCollective.group(2, Duration.ofSeconds(60));
        List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(group, c -> {
            c.allReduce(new float[c.rank() == 0 ? 4 : 5], 0, c.rank() == 0 ? 4 : 5, Reduction.SUM);
            return null;
        }, Duration.ofSeconds(30));
        for (RankThreads.Outcome<Object> o : outcomes) {
            assertInstanceOf(CollectiveException.class, o.failure());
            assertTrue(o.failure().getMessage().contains("different collectives"), o.failure().getMessage());
        }
    }

    @Test
    void aRegionOutsideTheArrayIsRefusedBeforeAnyRendezvous() {
        Collective single = InProcessCollective.group(1).get(0);
        assertThrows(IndexOutOfBoundsException.class, () -> single.allReduce(new float[4], 2, 3, Reduction.SUM));
        assertEquals(1, single.worldSize());
        single.close();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
