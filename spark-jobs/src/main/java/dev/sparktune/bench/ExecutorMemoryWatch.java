package dev.sparktune.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Polls the memory of the Spark executors a driver process started (its descendants running
 * {@code CoarseGrainedExecutorBackend}) until {@link #stop}: per executor, the peak resident set ({@code VmHWM}, as
 * the kernel keeps it) and the largest data segment seen ({@code VmData}, what {@code RLIMIT_DATA} bounds). A peak
 * reached in the last poll interval before an executor died is missed for {@code VmData}; {@code VmHWM} is read at
 * the last poll too.
 */
final class ExecutorMemoryWatch implements AutoCloseable {
    private static final long INTERVAL_MILLIS = 200;

    private final Process driver;
    private final Map<Long, String> executorIds = new ConcurrentHashMap<>();
    private final Map<Long, ExecutorPeaks> peaks = new ConcurrentHashMap<>();
    private final Thread poller;
    private volatile boolean running = true;

    private ExecutorMemoryWatch(Process driver) {
        this.driver = driver;
        this.poller = new Thread(this::poll, "executor-memory-watch");
        poller.setDaemon(true);
    }

    /** Starts watching {@code driver}'s executors. */
    static ExecutorMemoryWatch start(Process driver) {
        ExecutorMemoryWatch watch = new ExecutorMemoryWatch(driver);
        watch.poller.start();
        return watch;
    }

    /** Stops polling and returns each executor's peaks, by Spark executor id. */
    Map<String, ExecutorPeaks> stop() throws InterruptedException {
        running = false;
        poller.join();
        Map<String, ExecutorPeaks> byExecutor = new TreeMap<>();
        peaks.forEach((pid, p) -> byExecutor.put(executorIds.get(pid), p));
        return byExecutor;
    }

    @Override
    public void close() throws InterruptedException {
        if (running) {
            stop();
        }
    }

    private void poll() {
        while (running) {
            driver.descendants().forEach(process -> {
                long pid = process.pid();
                if (!executorIds.containsKey(pid)) {
                    String id = executorId(pid);     // "" also for a process not yet exec'd: asked again next time
                    if (!id.isEmpty()) {
                        executorIds.put(pid, id);
                    }
                }
                if (executorIds.containsKey(pid)) {
                    ProcessStatus.of(pid, "VmHWM").ifPresent(resident -> {
                        long data = ProcessStatus.of(pid, "VmData").orElse(0);
                        peaks.merge(pid, new ExecutorPeaks(resident, data), ExecutorPeaks::max);
                    });
                }
            });
            try {
                Thread.sleep(INTERVAL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The {@code --executor-id} of an executor process, or "" for any other process. */
    private static String executorId(long pid) {
        try {
            List<String> args = List.of(new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8).split("\0"));
            int at = args.indexOf("--executor-id");
            return args.contains("org.apache.spark.executor.CoarseGrainedExecutorBackend") && at >= 0
                    && at + 1 < args.size() ? args.get(at + 1) : "";
        } catch (IOException ended) {
            return "";
        }
    }
}
