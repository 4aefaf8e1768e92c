package dev.sparktune.testing;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Runs a call on a thread with the stack a Spark task thread gets (the JVM default, 1 MB on 64-bit Linux), so a
 * test of "stack use does not grow with the input" fails the same way an executor would, whatever stack the
 * test runner's own thread has. A runtime exception is rethrown as it is; an {@link Error} ({@link StackOverflowError}
 * included) as an {@link AssertionError} whose trace shows the test's line.
 */
public final class TaskThread {
    /** The default thread stack of HotSpot on x86-64 and aarch64 Linux. */
    public static final long STACK_BYTES = 1024 * 1024;

    private TaskThread() {
    }

    public static <T> T call(Supplier<T> work) {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(null, () -> {
            try {
                result.set(work.get());
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "task-like", STACK_BYTES);
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException r) {
            throw r;
        }
        if (e instanceof Error err) {
            throw new AssertionError(err + " on a " + STACK_BYTES / 1024 + " KB task stack", err);
        }
        return result.get();
    }
}
