package dev.sparktune.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.DistConfig;
import dev.sparktune.dist.RingEncryption;
import java.util.List;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** dist.ring_encryption against the Spark conf the training job runs with. */
class RingEncryptionSettingTest {
    private static DistConfig dist(String... overrides) {
        return ConfigLoader.parse("", "test", List.of(overrides)).job().dist();
    }

    @Test
    void unsetItSealsTheRingOnAClusterThatEncryptsSparksOwnTraffic() {
        for (String key : List.of("spark.network.crypto.enabled", "spark.ssl.enabled")) {
            SparkConf conf = new SparkConf(false).set(key, "true");
            assertEquals(RingEncryption.AES_GCM, RingEncryptionSetting.resolve(dist(), conf), key);
            assertNull(RingEncryptionSetting.plainRingWarning(RingEncryption.AES_GCM, conf));
        }
    }

    @Test
    void unsetItIsPlainElsewhere() {
        assertEquals(RingEncryption.NONE, RingEncryptionSetting.resolve(dist(), new SparkConf(false)));
        SparkConf off = new SparkConf(false).set("spark.network.crypto.enabled", "false").set("spark.ssl.enabled", "false");
        assertEquals(RingEncryption.NONE, RingEncryptionSetting.resolve(dist(), off));
        assertNull(RingEncryptionSetting.plainRingWarning(RingEncryption.NONE, off));
    }

    @Test
    void anExplicitValueWinsAndPlainOnAnEncryptingClusterIsWarnedAbout() {
        SparkConf encrypting = new SparkConf(false).set("spark.network.crypto.enabled", "true");
        assertEquals(RingEncryption.NONE, RingEncryptionSetting.resolve(dist("dist.ring_encryption=none"), encrypting));
        assertEquals(RingEncryption.AES_GCM, RingEncryptionSetting.resolve(dist("dist.ring_encryption=aes-gcm"),
                new SparkConf(false)));
        String warning = RingEncryptionSetting.plainRingWarning(RingEncryption.NONE, encrypting);
        assertTrue(warning.contains("dist.ring_encryption is none"), warning);
    }
}
