package dev.sparktune.testing;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.launcher.JavaModuleOptions;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Spark for a test class: {@code local[N]} (one JVM, N task threads) or
 * {@code local-cluster[N,1,MB]} (a master, N workers and N separate executor JVMs of one
 * core each, the closest thing to a cluster one machine can run). One session is shared by
 * the class, because each cluster start costs about 20 seconds.
 *
 * <pre>
 * &#64;RegisterExtension
 * static final SparkClusterExtension spark = SparkClusterExtension.localCluster(2, 1024);
 * </pre>
 */
public final class SparkClusterExtension implements BeforeAllCallback, AfterAllCallback {
    private static final Duration EXECUTOR_WAIT = Duration.ofSeconds(90);

    private final int executors;
    private final int executorMemoryMb;
    private final boolean separateJvms;
    private final Map<String, String> extraConfig;
    private SparkSession session;

    private SparkClusterExtension(int executors, int executorMemoryMb, boolean separateJvms,
                                  Map<String, String> extraConfig) {
        this.executors = executors;
        this.executorMemoryMb = executorMemoryMb;
        this.separateJvms = separateJvms;
        this.extraConfig = Map.copyOf(extraConfig);
    }

    /** Spark in the test JVM with {@code threads} task slots. */
    public static SparkClusterExtension local(int threads) {
        return new SparkClusterExtension(threads, 0, false, Map.of());
    }

    /** {@code executors} executor JVMs of one core and {@code memoryMb} each. */
    public static SparkClusterExtension localCluster(int executors, int memoryMb) {
        return new SparkClusterExtension(executors, memoryMb, true, Map.of());
    }

    /** The same cluster, started with Spark setting {@code key} ({@code spark.hadoop.*}: the executors' Hadoop too). */
    public SparkClusterExtension with(String key, String value) {
        Map<String, String> config = new TreeMap<>(extraConfig);
        config.put(key, value);
        return new SparkClusterExtension(executors, executorMemoryMb, separateJvms, config);
    }

    public SparkSession session() {
        if (session == null) {
            throw new IllegalStateException("the Spark session exists only between beforeAll and afterAll");
        }
        return session;
    }

    /** Number of task slots the tests can count on (executors, or threads for local mode). */
    public int slots() {
        return executors;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Path scratch = Path.of("target", "spark-scratch").toAbsolutePath();
        SparkSession.Builder builder = SparkSession.builder()
                .appName(context.getDisplayName())
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", Integer.toString(2 * executors))
                .config("spark.sql.warehouse.dir", scratch.resolve("warehouse").toString());
        extraConfig.forEach(builder::config);
        if (separateJvms) {
            SparkHome.prepare();
            builder.master(String.format(Locale.ROOT, "local-cluster[%d,1,%d]", executors, executorMemoryMb))
                    .config("spark.executor.memory", executorMemoryMb + "m")
                    .config("spark.executor.extraJavaOptions", executorJavaOptions());
        } else {
            builder.master("local[" + executors + "]");
        }
        session = builder.getOrCreate();
        if (separateJvms) {
            awaitExecutors();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (session != null) {
            session.stop();
            SparkSession.clearActiveSession();
            SparkSession.clearDefaultSession();
            session = null;
        }
    }

    /** Spark's own Java 17 module options, plus the logging config the test JVM uses. */
    private static String executorJavaOptions() {
        String options = JavaModuleOptions.defaultModuleOptions();
        String log4j = System.getProperty("log4j2.configurationFile");
        return log4j == null ? options : options + " -Dlog4j2.configurationFile=" + log4j;
    }

    /** Barrier stages need every slot up front, so tests start only once all executors have registered. */
    private void awaitExecutors() throws InterruptedException {
        long deadline = System.nanoTime() + EXECUTOR_WAIT.toNanos();
        while (registeredExecutors() < executors) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + registeredExecutors() + " of " + executors
                        + " local-cluster executors registered within " + EXECUTOR_WAIT.toSeconds()
                        + " s; see target/spark-home/work/ for their logs");
            }
            Thread.sleep(200);
        }
    }

    private int registeredExecutors() {
        // the driver is listed too
        return session.sparkContext().statusTracker().getExecutorInfos().length - 1;
    }
}
