package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The micro-batches of one epoch. The mixer's task plan picks the task of each micro-batch (a micro-batch never
 * mixes tasks, so each keeps its own objective and head) and that task's own stream of shuffled rows fills it. A
 * task counts one draw per whole micro-batch of its rows; under {@code interleave_over} a task that is used up
 * starts a new pass over its rows in a fresh order. The sequence is a function of (seed, epoch) alone, so a
 * resumed run {@link #skip}s the micro-batches already trained on and continues exactly.
 */
final class MicroBatches implements Iterator<MicroBatches.MicroBatch> {

    /** {@code rows} of task number {@code task}. */
    record MicroBatch(int task, List<TokenizedRow> rows) {
    }

    private final List<TrainingTask> tasks;
    private final long seed;
    private final int epoch;
    private final int batchSize;
    private final int[] units;
    private final EpochPlan plan;
    private final int[] passes;
    private final int[] drawsInPass;
    private final List<Iterator<TokenizedRow>> streams;

    MicroBatches(List<TrainingTask> tasks, TaskMix mix, long seed, int epoch, int batchSize) {
        this.tasks = List.copyOf(tasks);
        this.seed = seed;
        this.epoch = epoch;
        this.batchSize = batchSize;
        this.units = units(tasks, batchSize);
        List<Task> sized = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            sized.add(new Task(tasks.get(t).name(), units[t]));
        }
        this.plan = mix.mixer(sized).taskPlan(seed, epoch);
        this.passes = new int[tasks.size()];
        this.drawsInPass = new int[tasks.size()];
        this.streams = new ArrayList<>();
        for (int t = 0; t < tasks.size(); t++) {
            streams.add(null);
        }
    }

    /** Whole micro-batches of each task; a task with fewer rows than one micro-batch is an error naming it. */
    private static int[] units(List<TrainingTask> tasks, int batchSize) {
        int[] units = new int[tasks.size()];
        for (int t = 0; t < tasks.size(); t++) {
            long rows = tasks.get(t).data().rows();
            if (rows < batchSize) {
                throw new IllegalArgumentException("task '" + tasks.get(t).name() + "' has " + rows
                        + " rows, fewer than one micro-batch of per_device_train_batch_size " + batchSize);
            }
            units[t] = Math.toIntExact(rows / batchSize);
        }
        return units;
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
        if (streams.get(task) == null) {
            long skipRows = (long) drawsInPass[task] * batchSize;
            streams.set(task, tasks.get(task).data().epoch(rowSeed(task), epoch, skipRows));
        }
        Iterator<TokenizedRow> stream = streams.get(task);
        List<TokenizedRow> rows = new ArrayList<>(batchSize);
        while (rows.size() < batchSize) {
            rows.add(stream.next());    // a pass holds units[task] whole micro-batches
        }
        drawsInPass[task]++;
        return new MicroBatch(task, rows);
    }

    private void startPassIfUsedUp(int task) {
        if (drawsInPass[task] == units[task]) {
            passes[task]++;
            drawsInPass[task] = 0;
            streams.set(task, null);
        }
    }

    /** Each task, and each pass over it, gets its own row order. */
    private long rowSeed(int task) {
        return SeededRandom.of(seed, task, passes[task]).nextLong();
    }
}
