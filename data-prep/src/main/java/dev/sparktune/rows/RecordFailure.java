package dev.sparktune.rows;

import org.apache.spark.TaskKilledException;

/**
 * What a per-record step does with a failure (issue 19: a record can only ever be rejected, never fail a job).
 * Whatever one record's work throws becomes that record's rejected row, {@link StackOverflowError} included (a
 * record nested or repeated deeper than some library's recursion allows); only failures that are not the record's
 * doing pass: the JVM's own ({@link OutOfMemoryError}, {@link InternalError}: the executor is in trouble and Spark
 * should retry the task elsewhere) and a task being cancelled ({@link TaskKilledException}, interruption).
 *
 * <pre>
 * try {
 *     out = work(row);
 * } catch (Throwable t) {
 *     out = rejected(RecordFailure.reason("cleaning", t));   // rethrows what is not the record's fault
 * }
 * </pre>
 */
public final class RecordFailure {
    private RecordFailure() {
    }

    /** True when {@code t}, thrown by one record's work, is that record's problem: reject the record and go on. */
    public static boolean isRecoverable(Throwable t) {
        if (t instanceof StackOverflowError) {
            return true;
        }
        if (t instanceof VirtualMachineError || t instanceof TaskKilledException || t instanceof InterruptedException
                || Thread.currentThread().isInterrupted()) {
            return false;
        }
        return true;
    }

    /**
     * The rejection reason for a record whose {@code step} ("cleaning", "augmenting", ...) threw {@code t}; rethrows
     * {@code t} unchanged when it is not {@link #isRecoverable recoverable}.
     */
    public static String reason(String step, Throwable t) {
        if (!isRecoverable(t)) {
            throw RecordFailure.<RuntimeException>sneaky(t);
        }
        if (t instanceof StackOverflowError) {
            return step + " failed: StackOverflowError: the record is nested or repeated deeper than the stack"
                    + " allows (" + where(t) + "); split or simplify the record, and report the input shape as a bug";
        }
        String message = t.getMessage() == null ? "" : ": " + firstLine(t.getMessage());
        return step + " failed: " + t.getClass().getName() + message + " (" + where(t) + ")";
    }

    /** The innermost frame of the trace, so that a reason names the code that gave up. */
    private static String where(Throwable t) {
        StackTraceElement[] trace = t.getStackTrace();
        return trace.length == 0 ? "no stack trace" : "at " + trace[0];
    }

    private static String firstLine(String s) {
        String line = s.lines().findFirst().orElse("");
        return line.length() > 500 ? line.substring(0, 500) + "..." : line;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
