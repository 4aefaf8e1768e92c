package dev.sparktune.train;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The draws of one epoch, in order, from a {@link TaskMixer}. Which task comes next and which of
 * its rows are two separate random streams keyed by {@code (seed, epoch)}: the task sequence (and
 * so {@link #length()}) does not depend on the row orders. Within a task, rows follow a shuffled
 * order; a task that is used up and starts over (interleave_over) gets a fresh order.
 *
 * <p>A resumed run rebuilds the plan of its epoch and {@link #skip}s the draws already trained on.
 */
public final class EpochPlan implements Iterator<Draw> {
    private static final long TASK_STREAM = 1;
    private static final long ROW_STREAM = 2;

    private final TaskMixer mixer;
    private final long seed;
    private final long epoch;
    private final int[] sizes;
    private final double[] probabilities;
    private final SeededRandom taskRandom;
    private final SeededRandom rowRandom;
    /** Row orders of the current pass over each task; null in a dry run, which only counts draws. */
    private final int[][] rowOrders;
    /** Rows taken from each task in its current pass. */
    private final int[] taken;
    private final boolean[] usedUp;
    private int lastRow;
    private long position;
    private long length = -1;

    EpochPlan(TaskMixer mixer, long seed, long epoch, boolean withRows) {
        this.mixer = mixer;
        this.seed = seed;
        this.epoch = epoch;
        this.sizes = mixer.sizes();
        this.probabilities = mixer.rawProbabilities();
        this.taskRandom = SeededRandom.of(seed, epoch, TASK_STREAM);
        this.rowRandom = SeededRandom.of(seed, epoch, ROW_STREAM);
        this.rowOrders = withRows ? new int[sizes.length][] : null;
        this.taken = new int[sizes.length];
        this.usedUp = new boolean[sizes.length];
    }

    /** Draws taken so far: the position to store in a checkpoint. */
    public long position() {
        return position;
    }

    /** How many draws the whole epoch has. For probabilistic interleaving this replays the task sequence once. */
    public long length() {
        if (length < 0) {
            EpochPlan dry = new EpochPlan(mixer, seed, epoch, false);
            long n = 0;
            while (dry.hasNext()) {
                dry.nextTask();
                n++;
            }
            length = n;
        }
        return length;
    }

    /** Moves past the next {@code draws} draws, as if they had been taken. */
    public void skip(long draws) {
        for (long i = 0; i < draws; i++) {
            if (!hasNext()) {
                throw new IllegalArgumentException("cannot skip " + draws + " draws: epoch " + epoch
                        + " ends after " + position);
            }
            next();
        }
    }

    @Override
    public boolean hasNext() {
        return switch (mixer.strategy()) {
            // concat never picks a used-up task, so it ends when every task is used up.
            case CONCAT, INTERLEAVE_OVER -> !(allUsedUp() && wholeRound());
            case INTERLEAVE_UNDER -> !(anyUsedUp() && wholeRound());
        };
    }

    /** The next draw; in a plan of tasks only ({@link TaskMixer#taskPlan}) its row is -1. */
    @Override
    public Draw next() {
        int task = nextTask();
        return new Draw(task, rowOrders == null ? -1 : lastRow);
    }

    /** Picks the next task and takes its next row (into {@link #lastRow}, unless this is a dry run). */
    private int nextTask() {
        if (!hasNext()) {
            throw new NoSuchElementException("epoch " + epoch + " has " + position + " draws, all taken");
        }
        int task = chooseTask();
        if (rowOrders != null) {
            if (taken[task] == 0) {
                rowOrders[task] = rowRandom.permutation(sizes[task]);
            }
            lastRow = rowOrders[task][taken[task]];
        }
        taken[task]++;
        if (taken[task] == sizes[task]) {
            usedUp[task] = true;
            taken[task] = 0;
        }
        position++;
        return task;
    }

    private int chooseTask() {
        if (mixer.strategy() == MixStrategy.CONCAT) {
            // Drawing a task with probability proportional to its rows not yet taken, then that
            // task's next row in its own shuffled order, gives a uniformly random permutation of
            // all rows: the same as shuffling the concatenation, without an array over all of them.
            double[] remaining = new double[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                remaining[i] = usedUp[i] ? 0 : sizes[i] - taken[i];
            }
            return pick(remaining);
        }
        if (probabilities == null) {
            return (int) (position % sizes.length);
        }
        return pick(probabilities);
    }

    /** Index i with probability weights[i] / sum(weights). */
    private int pick(double[] weights) {
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        double u = taskRandom.nextDouble() * total;
        int last = -1;
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] > 0) {
                last = i;
                u -= weights[i];
                if (u < 0) {
                    return i;
                }
            }
        }
        return last; // u was within rounding of the total
    }

    /** Round robin ends only after whole rounds, as {@code interleave_datasets} without probabilities does. */
    private boolean wholeRound() {
        return mixer.strategy() == MixStrategy.CONCAT || probabilities != null || position % sizes.length == 0;
    }

    private boolean allUsedUp() {
        for (boolean u : usedUp) {
            if (!u) {
                return false;
            }
        }
        return true;
    }

    private boolean anyUsedUp() {
        for (boolean u : usedUp) {
            if (u) {
                return true;
            }
        }
        return false;
    }
}
