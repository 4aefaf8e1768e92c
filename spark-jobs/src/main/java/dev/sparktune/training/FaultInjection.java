package dev.sparktune.training;

import java.io.Serializable;

/**
 * A test hook: rank {@code rank} kills its own executor process ({@link Runtime#halt}) right after step {@code step}
 * of the stage's first attempt, as a lost machine would. Never set by the command line; tests pass it to
 * {@link TrainingJob} to check that Spark retries the stage and the ranks resume from the newest checkpoint.
 */
public record FaultInjection(int rank, long step) implements Serializable {
    /** The exit status of the killed executor, as for a process ended by SIGKILL. */
    static final int EXIT_STATUS = 137;

    boolean firesAt(int rank, long step, int stageAttempt) {
        return stageAttempt == 0 && this.rank == rank && this.step == step;
    }
}
