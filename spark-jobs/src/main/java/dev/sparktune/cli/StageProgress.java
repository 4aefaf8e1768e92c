package dev.sparktune.cli;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;

/**
 * Progress lines for the Spark stages a step runs, for a terminal that would otherwise show nothing between a step's
 * header and its result: at most one line per {@code interval} while a stage runs, and one when a stage that ran
 * longer than that ends, with its tasks done and the rows it read and wrote so far
 * ({@code   prep: Spark stage 7, 150/200 tasks, 4,812 rows read}). Quick stages print
 * nothing. Attached to a session with {@link #attach}, detached with {@link #close}.
 */
final class StageProgress extends SparkListener implements AutoCloseable {
    private final SparkContext spark;
    private final PrintWriter out;
    private final String label;
    private final long intervalNanos;
    private final Map<Integer, Stage> running = new ConcurrentHashMap<>();
    private final AtomicLong lastLine = new AtomicLong(System.nanoTime());

    private static final class Stage {
        final StageInfo info;
        final long started = System.nanoTime();
        final AtomicLong tasksDone = new AtomicLong();
        final AtomicLong rowsRead = new AtomicLong();
        final AtomicLong rowsWritten = new AtomicLong();

        Stage(StageInfo info) {
            this.info = info;
        }
    }

    private StageProgress(SparkContext spark, PrintWriter out, String label, long intervalNanos) {
        this.spark = spark;
        this.out = out;
        this.label = label;
        this.intervalNanos = intervalNanos;
    }

    /** Prints progress of {@code spark}'s stages to {@code out}, each line headed by {@code label}, until closed. */
    static StageProgress attach(SparkContext spark, PrintWriter out, String label, java.time.Duration interval) {
        StageProgress progress = new StageProgress(spark, out, label, interval.toNanos());
        spark.addSparkListener(progress);
        return progress;
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted event) {
        running.put(event.stageInfo().stageId(), new Stage(event.stageInfo()));
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd event) {
        Stage stage = running.get(event.stageId());
        if (stage == null) {
            return;
        }
        stage.tasksDone.incrementAndGet();
        if (event.taskMetrics() != null) {
            stage.rowsRead.addAndGet(event.taskMetrics().inputMetrics().recordsRead()
                    + event.taskMetrics().shuffleReadMetrics().recordsRead());
            stage.rowsWritten.addAndGet(event.taskMetrics().outputMetrics().recordsWritten());
        }
        long now = System.nanoTime();
        long last = lastLine.get();
        if (now - last >= intervalNanos && lastLine.compareAndSet(last, now)) {
            print(stage, false);
        }
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted event) {
        Stage stage = running.remove(event.stageInfo().stageId());
        if (stage != null && System.nanoTime() - stage.started >= intervalNanos) {
            print(stage, true);
        }
    }

    private void print(Stage stage, boolean done) {
        StringBuilder line = new StringBuilder(String.format("  %s: Spark stage %d, %d/%d tasks", label,
                stage.info.stageId(), stage.tasksDone.get(), stage.info.numTasks()));
        if (stage.rowsRead.get() > 0) {
            line.append(String.format(", %,d %s read", stage.rowsRead.get(), stage.rowsRead.get() == 1 ? "row" : "rows"));
        }
        if (stage.rowsWritten.get() > 0) {
            line.append(String.format(", %,d %s written", stage.rowsWritten.get(),
                    stage.rowsWritten.get() == 1 ? "row" : "rows"));
        }
        if (done) {
            line.append(String.format(", done in %s", RunCommand.format(java.time.Duration.ofNanos(
                    System.nanoTime() - stage.started))));
        }
        synchronized (out) {
            out.println(line);
            out.flush();
        }
    }

    @Override
    public void close() {
        spark.removeSparkListener(this);
    }
}
