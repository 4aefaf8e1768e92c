package dev.sparktune.training;

import dev.sparktune.config.DistConfig;
import dev.sparktune.dist.RingEncryption;
import org.apache.spark.SparkConf;

/**
 * {@code dist.ring_encryption} for a job on a given cluster, decided once on the driver so that every rank gets the
 * same answer. An explicit value wins; left unset, the ring is sealed with AES-GCM on a cluster that encrypts Spark's
 * own traffic ({@code spark.network.crypto.enabled} or {@code spark.ssl.enabled}), so the gradients are not the one
 * plain stream there, and plain TCP elsewhere.
 */
final class RingEncryptionSetting {
    private RingEncryptionSetting() {
    }

    static RingEncryption resolve(DistConfig dist, SparkConf conf) {
        if (dist.ringEncryption() != null) {
            return RingEncryption.named(dist.ringEncryption());
        }
        return sparkEncrypts(conf) ? RingEncryption.AES_GCM : RingEncryption.NONE;
    }

    /** A warning when the job turned the ring's encryption off on a cluster that encrypts its own traffic; else null. */
    static String plainRingWarning(RingEncryption resolved, SparkConf conf) {
        if (resolved != RingEncryption.NONE || !sparkEncrypts(conf)) {
            return null;
        }
        return "dist.ring_encryption is none, so the ranks' gradients and parameters cross the network in plain TCP on a"
                + " cluster that encrypts Spark's own traffic (spark.network.crypto.enabled or spark.ssl.enabled); remove"
                + " the key or set aes-gcm to seal them";
    }

    private static boolean sparkEncrypts(SparkConf conf) {
        return conf.getBoolean("spark.network.crypto.enabled", false) || conf.getBoolean("spark.ssl.enabled", false);
    }
}
