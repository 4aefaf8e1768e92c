package dev.sparktune.cli;

import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark session a command runs on: the one spark-submit (or a caller) set up, else a new one on {@code local[*]};
 * only a session the command created is stopped when it closes.
 */
final class CommandSession implements AutoCloseable {
    static final String SHUFFLE_PARTITIONS_KEY = "spark.sql.shuffle.partitions";
    /**
     * Shuffle partitions per core of a {@code local[*]} session the command starts itself. Spark's default of 200 is
     * sized for clusters: on one machine each partition is a task of a few rows, and the demo's prep spent most of
     * its time scheduling them (2 min 56 s with 200 partitions, 1 min 12 s with 8, on 2 cores; BENCHMARKS.md).
     */
    static final int LOCAL_SHUFFLE_PARTITIONS_PER_CORE = 4;

    private final SparkSession spark;
    private final boolean own;

    private CommandSession(SparkSession spark, boolean own) {
        this.spark = spark;
        this.own = own;
    }

    /** {@code defaults} apply only where the Spark configuration given to the JVM does not set the key. */
    static CommandSession open(String appName, Map<String, String> defaults) {
        boolean own = SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty();
        SparkConf given = new SparkConf();
        SparkSession.Builder builder = SparkSession.builder().appName(appName);
        if (!given.contains("spark.master")) {
            builder.master("local[*]");
            if (own && !given.contains(SHUFFLE_PARTITIONS_KEY)) {
                builder.config(SHUFFLE_PARTITIONS_KEY,
                        LOCAL_SHUFFLE_PARTITIONS_PER_CORE * Runtime.getRuntime().availableProcessors());
            }
        }
        defaults.forEach((key, value) -> {
            if (!given.contains(key)) {
                builder.config(key, value);
            }
        });
        return new CommandSession(builder.getOrCreate(), own);
    }

    SparkSession spark() {
        return spark;
    }

    @Override
    public void close() {
        if (own) {
            spark.stop();
        }
    }
}
