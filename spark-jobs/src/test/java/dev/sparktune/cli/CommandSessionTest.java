package dev.sparktune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CommandSessionTest {
    @AfterEach
    void noSessionLeft() {
        System.clearProperty(CommandSession.SHUFFLE_PARTITIONS_KEY);
        SparkSession.getActiveSession().foreach(session -> {
            session.stop();
            return null;
        });
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }

    @Test
    void aLocalSessionOfItsOwnHasAFewShufflePartitionsPerCoreAndStopsOnClose() {
        SparkSession spark;
        try (CommandSession session = CommandSession.open("test", Map.of())) {
            spark = session.spark();
            assertTrue(spark.sparkContext().isLocal(), spark.sparkContext().master());
            int expected = CommandSession.LOCAL_SHUFFLE_PARTITIONS_PER_CORE * Runtime.getRuntime().availableProcessors();
            assertEquals(String.valueOf(expected), spark.conf().get(CommandSession.SHUFFLE_PARTITIONS_KEY));
        }
        assertTrue(spark.sparkContext().isStopped());
    }

    @Test
    void shufflePartitionsGivenToTheJvmAreKept() {
        System.setProperty(CommandSession.SHUFFLE_PARTITIONS_KEY, "3");
        try (CommandSession session = CommandSession.open("test", Map.of())) {
            assertEquals("3", session.spark().conf().get(CommandSession.SHUFFLE_PARTITIONS_KEY));
        }
    }

    @Test
    void aCallersSessionKeepsItsSettingsAndKeepsRunning() {
        SparkSession callers = SparkSession.builder().master("local[1]").appName("caller")
                .config("spark.ui.enabled", "false").config(CommandSession.SHUFFLE_PARTITIONS_KEY, "5").getOrCreate();
        try (CommandSession session = CommandSession.open("test", Map.of())) {
            assertSame(callers, session.spark());
            assertEquals("5", session.spark().conf().get(CommandSession.SHUFFLE_PARTITIONS_KEY));
        }
        assertFalse(callers.sparkContext().isStopped());
    }
}
