package dev.sparktune.training;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkExecutorInfo;

/**
 * Checks made before the barrier stage is submitted, so a misconfigured job fails in seconds with what to change
 * rather than hanging or failing deep inside Spark: dynamic allocation (barrier stages cannot run under it), too
 * few free task slots for {@code world_size} ranks (Spark would only give up after its own slot check, minutes
 * later), and an unset barrier timeout (Spark's default is a year).
 */
public final class ClusterPreflight {
    /** The barrier timeout sparktune sets on the sessions it creates: longer than any model load, far from a year. */
    public static final String BARRIER_TIMEOUT = "1800s";
    public static final String BARRIER_TIMEOUT_KEY = "spark.barrier.sync.timeout";

    private ClusterPreflight() {
    }

    /** Problems with the Spark configuration itself, each naming the setting to change; empty when none. */
    public static List<String> configurationProblems(SparkConf conf) {
        List<String> problems = new ArrayList<>();
        if (conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
            problems.add("spark.dynamicAllocation.enabled is true, but the ranks run as one barrier stage, which needs"
                    + " a fixed set of executors: set spark.dynamicAllocation.enabled=false for the training job");
        }
        return problems;
    }

    /** A warning when the barrier timeout is Spark's default of a year; null when it is set. */
    public static String barrierTimeoutWarning(SparkConf conf) {
        if (conf.contains(BARRIER_TIMEOUT_KEY)) {
            return null;
        }
        return BARRIER_TIMEOUT_KEY + " is not set, so a rank that never reaches the rendezvous holds the others for"
                + " Spark's default of a year; set it when the session starts, e.g. --conf " + BARRIER_TIMEOUT_KEY + "="
                + BARRIER_TIMEOUT;
    }

    /**
     * Waits up to {@code wait} (executors may still be registering) for {@code worldSize} free task slots; fails with
     * the counts and what to change when they do not appear.
     */
    public static void awaitSlots(SparkContext sc, int worldSize, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            int slots = sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
            int busy = 0;
            for (SparkExecutorInfo e : sc.statusTracker().getExecutorInfos()) {
                busy += e.numRunningTasks();
            }
            if (slots - busy >= worldSize) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("dist.world_size is " + worldSize + ", and each rank is one barrier task"
                        + " that needs its own task slot at the same time, but the cluster has " + (slots - busy)
                        + " free (" + slots + " slots of " + sc.getConf().get("spark.task.cpus", "1")
                        + " spark.task.cpus, " + busy + " busy) after waiting " + wait.toSeconds() + " s: lower"
                        + " dist.world_size, or give the job more executors or cores (spark.executor.instances,"
                        + " spark.executor.cores)");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for task slots", e);
            }
        }
    }
}
