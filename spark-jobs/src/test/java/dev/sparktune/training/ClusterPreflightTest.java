package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The configuration checks made before a training job is submitted; the slot check runs on a cluster elsewhere. */
class ClusterPreflightTest {
    @Test
    void aCleanConfigurationHasNoProblems() {
        assertEquals(List.of(), ClusterPreflight.configurationProblems(new SparkConf(false)));
    }

    @Test
    void dynamicAllocationIsRefusedWithTheSettingToChange() {
        SparkConf conf = new SparkConf(false).set("spark.dynamicAllocation.enabled", "true");
        List<String> problems = ClusterPreflight.configurationProblems(conf);
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("set spark.dynamicAllocation.enabled=false"), problems.get(0));
    }

    @Test
    void anEncryptingClusterIsNoProblemBecauseTheRingSealsItselfThere() {
        // dist.ring_encryption resolves to aes-gcm there (RingEncryptionSettingTest)
        for (String key : List.of("spark.ssl.enabled", "spark.network.crypto.enabled")) {
            assertEquals(List.of(), ClusterPreflight.configurationProblems(new SparkConf(false).set(key, "true")), key);
        }
    }

    @Test
    void anUnsetBarrierTimeoutIsNamedWithTheValueToSet() {
        String warning = ClusterPreflight.barrierTimeoutWarning(new SparkConf(false));
        assertTrue(warning.contains("--conf spark.barrier.sync.timeout=" + ClusterPreflight.BARRIER_TIMEOUT), warning);
        assertNull(ClusterPreflight.barrierTimeoutWarning(new SparkConf(false).set("spark.barrier.sync.timeout", "60s")));
    }
}
