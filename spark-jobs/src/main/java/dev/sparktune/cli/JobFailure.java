package dev.sparktune.cli;

import java.io.PrintWriter;
import org.apache.spark.SparkException;

/** How a command reports a Spark job that failed: its root cause, one line, and exit code {@value #FAILED}. */
final class JobFailure {
    /** Exit code for a job that started and failed. */
    static final int FAILED = 1;

    private JobFailure() {
    }

    /**
     * Reports {@code e} when it is a {@link SparkException} (Spark throws it, checked, from Scala undeclared) and
     * returns {@value #FAILED}; any other exception is rethrown.
     */
    static int report(PrintWriter err, String what, Exception e) {
        if (!(e instanceof SparkException)) {
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e);
        }
        Throwable cause = e;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        err.println(what + "; the last error: " + cause);
        err.flush();
        return FAILED;
    }
}
