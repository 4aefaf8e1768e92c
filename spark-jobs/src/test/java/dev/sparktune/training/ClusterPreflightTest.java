package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DistConfig;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The configuration checks made before a training job is submitted; the slot check runs on a cluster elsewhere. */
class ClusterPreflightTest {
    private static DistConfig dist(String... overrides) {
        return ConfigLoader.parse("", "test", List.of(overrides)).job().dist();
    }

    @Test
    void aCleanConfigurationHasNoProblems() {
        assertEquals(List.of(), ClusterPreflight.configurationProblems(new SparkConf(false), dist()));
    }

    @Test
    void dynamicAllocationIsRefusedWithTheSettingToChange() {
        SparkConf conf = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true");
        List<String> problems = ClusterPreflight.configurationProblems(conf, dist());
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("set spark.dynamicAllocation.enabled=false"), problems.get(0));
    }

    @Test
    void sslNeedsAnExplicitOptInBecauseTheRingIsPlainTcp() {
        for (String key : List.of("spark.ssl.enabled", "spark.network.crypto.enabled")) {
            SparkConf conf = new SparkConf(false).set(key, "true");
            List<String> problems = ClusterPreflight.configurationProblems(conf, dist());
            assertEquals(1, problems.size(), key);
            assertTrue(problems.get(0).contains("dist.allow_unencrypted_ring: true"), problems.get(0));
            assertEquals(List.of(), ClusterPreflight.configurationProblems(conf, dist("dist.allow_unencrypted_ring=true")));
        }
    }

    @Test
    void bothProblemsAreReportedTogether() {
        SparkConf conf = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true").set("spark.ssl.enabled", "true");
        assertEquals(2, ClusterPreflight.configurationProblems(conf, dist()).size());
    }

    @Test
    void anUnsetBarrierTimeoutIsNamedWithTheValueToSet() {
        String warning = ClusterPreflight.barrierTimeoutWarning(new SparkConf(false));
        assertTrue(warning.contains("--conf spark.barrier.sync.timeout=" + ClusterPreflight.BARRIER_TIMEOUT), warning);
        assertNull(ClusterPreflight.barrierTimeoutWarning(new SparkConf(false).set("spark.barrier.sync.timeout", "60s")));
    }
}
