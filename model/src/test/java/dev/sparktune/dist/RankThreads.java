package dev.sparktune.dist;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntFunction;

/** Runs one task per rank, each on its own thread, and collects what each returned or threw. */
final class RankThreads {

    /** What one rank's task ended with: a value or a failure. */
    record Outcome<T>(T value, Throwable failure) {
        T get() {
            if (failure != null) {
                throw new AssertionError("rank failed: " + failure, failure);
            }
            return value;
        }
    }

    private RankThreads() {
    }

    /** Every rank's result, in rank order; fails if any rank threw. */
    static <T> List<T> all(List<Collective> ranks, Function<Collective, T> task) {
        List<T> values = new ArrayList<>();
        for (Outcome<T> o : outcomes(ranks, task, Duration.ofMinutes(5))) {
            values.add(o.get());
        }
        return values;
    }

    /** Every rank's outcome, in rank order; fails if some rank has not finished within {@code limit}. */
    static <T> List<Outcome<T>> outcomes(List<Collective> ranks, Function<Collective, T> task, Duration limit) {
        return outcomes(ranks.size(), r -> task.apply(ranks.get(r)), limit);
    }

    /** The outcome of {@code task(r)} for r = 0 .. n-1, each on its own thread. */
    static <T> List<Outcome<T>> outcomes(int n, IntFunction<T> task, Duration limit) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, n));
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> task.apply(rank)));
            }
            long deadline = System.nanoTime() + limit.toNanos();
            List<Outcome<T>> outcomes = new ArrayList<>();
            for (Future<T> f : futures) {
                try {
                    outcomes.add(new Outcome<>(f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS), null));
                } catch (ExecutionException e) {
                    outcomes.add(new Outcome<>(null, e.getCause()));
                } catch (TimeoutException e) {
                    throw new AssertionError("a rank did not finish within " + limit + ": a collective hangs");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
