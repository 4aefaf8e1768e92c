package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The micro-batches of one epoch. The mixer's task plan picks the task of each micro-batch (a micro-batch never
 * mixes tasks, so each keeps its own objective and head) and that task's own stream of shuffled rows fills it. A
 * task counts one draw per whole micro-batch of its rows; under {@code interleave_over} a task that is used up
 * starts a new pass over its rows in a fresh order. The sequence is a function of (seed, epoch) alone (and of the
 * rank and world size, in a data-parallel run), so a resumed run {@link #skip}s the micro-batches already trained on
 * and continues exactly.
 *
 * <p>In a data-parallel run each rank builds its own micro-batches of {@code per_device_train_batch_size} rows from
 * its share of each task ({@link TrainingData#shards}). Every rank takes the same number of micro-batches of a task,
 * as many as the smallest share holds, so the task plan (a function of those counts, the seed and the epoch) is the
 * same on every rank and the ranks step together; a rank with a larger share leaves its surplus rows of that epoch
 * unread, as torch's {@code DistributedSampler(drop_last=True)} does.
 *
 * <p>With {@code groupByLength} (Hugging Face's {@code group_by_length}, after its {@code LengthGroupedSampler}) a
 * task's rows are taken {@value #MEGABATCH} micro-batches at a time, sorted by length, longest first, and cut into
 * micro-batches of similar lengths: less padding, the same rows per pass.
 */
final class MicroBatches implements Iterator<MicroBatches.MicroBatch> {
    static final int MEGABATCH = 50;

    /** {@code rows} of task number {@code task}. */
    record MicroBatch(int task, List<TokenizedRow> rows) {
    }

    /** This rank's share of each task in this epoch. */
    private final List<TrainingData> sources;
    private final long seed;
    private final int epoch;
    private final int batchSize;
    private final int[] units;
    private final EpochPlan plan;
    private final int[] passes;
    private final int[] drawsInPass;
    private final List<Iterator<TokenizedRow>> streams;
    private final boolean groupByLength;
    /** With groupByLength: each task's micro-batches of the current megabatch not yet taken. */
    private final List<Deque<List<TokenizedRow>>> grouped;

    MicroBatches(List<TrainingTask> tasks, TaskMix mix, long seed, int epoch, int batchSize) {
        this(tasks, mix, seed, epoch, batchSize, false);
    }

    MicroBatches(List<TrainingTask> tasks, TaskMix mix, long seed, int epoch, int batchSize, boolean groupByLength) {
        this(tasks, mix, seed, epoch, batchSize, groupByLength, 0, 1);
    }

    /** Rank {@code rank}'s micro-batches of {@code batchSize} rows in a data-parallel run on {@code worldSize} ranks. */
    MicroBatches(List<TrainingTask> tasks, TaskMix mix, long seed, int epoch, int batchSize, boolean groupByLength,
                 int rank, int worldSize) {
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " is not in a world of " + worldSize);
        }
        this.seed = seed;
        this.epoch = epoch;
        this.batchSize = batchSize;
        this.units = new int[tasks.size()];
        this.sources = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            List<TrainingData> shards = tasks.get(t).data().shards(seed, epoch, worldSize);
            units[t] = units(tasks.get(t), shards, batchSize);
            sources.add(shards.get(rank));
        }
        List<Task> sized = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            sized.add(new Task(tasks.get(t).name(), units[t]));
        }
        this.plan = mix.mixer(sized).taskPlan(seed, epoch);
        this.passes = new int[tasks.size()];
        this.drawsInPass = new int[tasks.size()];
        this.streams = new ArrayList<>();
        this.groupByLength = groupByLength;
        this.grouped = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            streams.add(null);
            grouped.add(new ArrayDeque<>());
        }
    }

    /**
     * Whole micro-batches every rank takes of {@code task}: as many as its smallest share holds. Too few rows for one
     * is an error naming the task and, on several ranks, what to change.
     */
    private static int units(TrainingTask task, List<TrainingData> shards, int batchSize) {
        long smallest = shards.stream().mapToLong(TrainingData::rows).min().orElseThrow();
        if (smallest >= batchSize) {
            return Math.toIntExact(smallest / batchSize);
        }
        if (shards.size() == 1) {
            throw new IllegalArgumentException("task '" + task.name() + "' has " + smallest
                    + " rows, fewer than one micro-batch of per_device_train_batch_size " + batchSize);
        }
        throw new IllegalArgumentException("task '" + task.name() + "': on " + shards.size() + " ranks, each reading"
                + " whole Parquet row groups of its " + task.data().rows() + " rows, the smallest share holds "
                + smallest + " rows, fewer than one micro-batch of per_device_train_batch_size " + batchSize
                + "; write the data in more row groups (smaller Parquet row groups or more files) or use fewer"
                + " ranks (dist.world_size)");
    }

    /** Micro-batches in the whole epoch. */
    long length() {
        return plan.length();
    }

    /** Micro-batches taken (or skipped) so far in this epoch. */
    long position() {
        return plan.position();
    }

    /** Moves past the next {@code count} micro-batches without reading their rows. */
    void skip(long count) {
        for (long i = 0; i < count; i++) {
            if (!hasNext()) {
                throw new IllegalArgumentException("cannot skip " + count + " micro-batches: epoch " + epoch
                        + " has " + length());
            }
            int task = plan.next().task();
            startPassIfUsedUp(task);
            drawsInPass[task]++;
        }
    }

    @Override
    public boolean hasNext() {
        return plan.hasNext();
    }

    @Override
    public MicroBatch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("epoch " + epoch + " has " + length() + " micro-batches, all taken");
        }
        int task = plan.next().task();
        startPassIfUsedUp(task);
        List<TokenizedRow> rows = groupByLength ? nextOfMegabatch(task) : read(task, drawsInPass[task], 1);
        drawsInPass[task]++;
        return new MicroBatch(task, rows);
    }

    /**
     * The next {@code count} micro-batches' rows of {@code task}, in stream order; the stream opens (after a
     * resume) at micro-batch {@code draw} of the pass.
     */
    private List<TokenizedRow> read(int task, int draw, int count) {
        if (streams.get(task) == null) {
            streams.set(task, sources.get(task).epoch(rowSeed(task), epoch, (long) draw * batchSize));
        }
        Iterator<TokenizedRow> stream = streams.get(task);
        List<TokenizedRow> rows = new ArrayList<>(count * batchSize);
        while (rows.size() < count * batchSize) {
            rows.add(stream.next());    // a pass holds units[task] whole micro-batches
        }
        return rows;
    }

    private List<TokenizedRow> nextOfMegabatch(int task) {
        Deque<List<TokenizedRow>> ready = grouped.get(task);
        if (ready.isEmpty()) {
            int draw = drawsInPass[task];
            int first = draw - draw % MEGABATCH;     // megabatches start at fixed draws, so a resume finds the same
            int count = Math.min(MEGABATCH, units[task] - first);
            List<TokenizedRow> rows = read(task, first, count);
            rows.sort(Comparator.comparingInt((TokenizedRow r) -> r.inputIds().length).reversed());   // stable
            for (int m = draw - first; m < count; m++) {
                ready.add(rows.subList(m * batchSize, (m + 1) * batchSize));
            }
        }
        return ready.poll();
    }

    private void startPassIfUsedUp(int task) {
        if (drawsInPass[task] == units[task]) {
            passes[task]++;
            drawsInPass[task] = 0;
            streams.set(task, null);
            grouped.get(task).clear();
        }
    }

    /** Each task, and each pass over it, gets its own row order. */
    private long rowSeed(int task) {
        return SeededRandom.of(seed, task, passes[task]).nextLong();
    }
}
