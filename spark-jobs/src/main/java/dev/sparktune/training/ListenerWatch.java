package dev.sparktune.training;

import java.io.Serializable;

/**
 * A test hook: tells a test where the training job's sockets listen, so that it can point stray clients at them
 * while the job runs (issue 19's chaos tests). Never set by the command line; tests pass it to {@link TrainingJob}.
 * It travels to the executors with the ranks' task, so an implementation keeps driver-only state transient.
 */
public interface ListenerWatch extends Serializable {
    /** On the driver, once the progress server listens at {@code host:port}, before the ranks start. */
    default void progressServerListening(String host, int port) {
    }

    /**
     * On an executor: the rank {@code rank} of stage attempt {@code stageAttempt} has bound its ring listener at
     * {@code address} and publishes it to the other ranks when this returns.
     */
    default void ringListenerBound(int rank, int stageAttempt, String address) {
    }
}
