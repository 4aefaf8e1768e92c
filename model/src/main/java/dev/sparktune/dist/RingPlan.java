package dev.sparktune.dist;

import java.util.ArrayList;
import java.util.List;

/**
 * What one rank sends and receives, step by step, in one collective over a ring where rank r sends to r+1 and
 * receives from r-1. Each step moves one segment (a {@link Shards} part of the region) cut into chunks; send step
 * t (t ≥ 1) forwards the segment received in step t-1, chunk by chunk, so a chunk travels on as soon as it has
 * arrived and been reduced: that is the pipeline.
 *
 * <p>Reduce-scatter (N-1 steps): in step t rank r sends segment r-1-t and adds the segment r-2-t it receives, so
 * the last segment it receives, fully reduced, is its own shard r. Segment k is summed in ring order starting
 * at rank k+1: fixed, so every run gives the same bits. All-gather (N-1 steps): rank r sends its shard first and
 * then forwards what it receives. All-reduce is the two in a row (2(N-1) steps, each moving 1/N of the buffer:
 * the bandwidth-optimal 2(N-1)/N per rank).
 */
final class RingPlan {
    record Step(int from, int to, boolean accumulate) {
        int length() {
            return to - from;
        }
    }

    final List<Step> sends = new ArrayList<>();
    /** The receive step whose chunks send step t forwards, or -1 when it sends local data. */
    final List<Integer> sendAfter = new ArrayList<>();
    final List<Step> receives = new ArrayList<>();
    /** The receive step after which this rank's own shard is fully reduced (AVERAGE divides it then), or -1. */
    int reducedAt = -1;
    final int chunk;

    private RingPlan(int chunk) {
        this.chunk = chunk;
    }

    static RingPlan allReduce(int rank, int world, int length, int chunk) {
        RingPlan plan = new RingPlan(chunk);
        plan.reduceScatterSteps(rank, world, new Shards(length, world));
        plan.allGatherSteps(rank, world, new Shards(length, world));
        return plan;
    }

    static RingPlan reduceScatter(int rank, int world, int length, int chunk) {
        RingPlan plan = new RingPlan(chunk);
        plan.reduceScatterSteps(rank, world, new Shards(length, world));
        return plan;
    }

    static RingPlan allGather(int rank, int world, int length, int chunk) {
        RingPlan plan = new RingPlan(chunk);
        plan.allGatherSteps(rank, world, new Shards(length, world));
        return plan;
    }

    /** The root sends the whole region; every other rank receives it and forwards it unless its next is the root. */
    static RingPlan broadcast(int rank, int world, int length, int root, int chunk) {
        RingPlan plan = new RingPlan(chunk);
        int position = Math.floorMod(rank - root, world);
        if (position > 0) {
            plan.receives.add(new Step(0, length, false));
        }
        if (position < world - 1) {
            plan.sends.add(new Step(0, length, false));
            plan.sendAfter.add(position > 0 ? 0 : -1);
        }
        return plan;
    }

    private void reduceScatterSteps(int rank, int world, Shards shards) {
        for (int t = 0; t < world - 1; t++) {
            send(segment(shards, rank - 1 - t, false));
            receives.add(segment(shards, rank - 2 - t, true));
        }
        reducedAt = receives.size() - 1;
    }

    private void allGatherSteps(int rank, int world, Shards shards) {
        for (int t = 0; t < world - 1; t++) {
            send(segment(shards, rank - t, false));
            receives.add(segment(shards, rank - 1 - t, false));
        }
    }

    /** Steps after the first forward what the previous receive step brought (the same segment by construction). */
    private void send(Step step) {
        sends.add(step);
        sendAfter.add(receives.isEmpty() ? -1 : receives.size() - 1);
    }

    private static Step segment(Shards shards, int k, boolean accumulate) {
        int s = Math.floorMod(k, shards.parts());
        return new Step((int) shards.start(s), (int) shards.end(s), accumulate);
    }

    int chunks(Step step) {
        return (step.length() + chunk - 1) / chunk;
    }

    /** How many chunks have been received once chunk {@code c} of receive step {@code t} has. */
    long receivedThrough(int t, int c) {
        long before = 0;
        for (int i = 0; i < t; i++) {
            before += chunks(receives.get(i));
        }
        return before + c + 1;
    }
}
