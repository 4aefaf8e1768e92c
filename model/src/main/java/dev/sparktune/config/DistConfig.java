package dev.sparktune.config;

/**
 * Section {@code dist}: data-parallel ranks and ZeRO sharding. Bucket keys follow
 * DeepSpeed's {@code zero_optimization} block and count elements, as DeepSpeed does. {@code ringEncryption} is
 * {@code none}, {@code aes-gcm}, or null when the job leaves it to the cluster.
 */
public record DistConfig(
        int worldSize,
        int zeroStage,
        long reduceBucketSize,
        int collectiveTimeoutSeconds,
        int checkpointTimeoutSeconds,
        String networkCidr,
        String ringEncryption) {

    static DistConfig read(Section s) {
        int worldSize = s.integer("world_size", 1, Range.atLeast(1));
        int zeroStage = s.integer("zero_stage", 0, Range.closed(0, 3));
        long reduceBucket = s.longInteger("reduce_bucket_size", 25_000_000L, Range.atLeast(1));
        s.notBuilt("allgather_bucket_size", "parameters are all-gathered in the buckets of reduce_bucket_size at stages 1"
                + " and 2, and one transformer block at a time at stage 3; remove the key");
        boolean overlap = s.flag("overlap_comm", false);
        s.require(!overlap, "overlap_comm", "not built yet: buckets are reduced one after another, after backward;"
                + " remove the key or set false");
        int timeout = s.integer("collective_timeout_seconds", 300, Range.atLeast(1));
        // how long the other ranks wait for rank 0 to write a checkpoint: a save takes far longer than a collective
        int checkpointTimeout = s.integer("checkpoint_timeout_seconds", 3600, Range.atLeast(1));
        String cidr = s.string("network_cidr", null);
        if (cidr != null) {
            s.require(cidr.matches("\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}"), "network_cidr",
                    "expected an IPv4 block such as 10.0.0.0/8, got '" + cidr + "'");
        }
        // null: decided by the cluster (the training job seals the ring where Spark encrypts its own traffic)
        String ringEncryption = s.choice("ring_encryption", null, "none", "aes-gcm");
        return new DistConfig(worldSize, zeroStage, reduceBucket, timeout, checkpointTimeout, cidr,
                ringEncryption);
    }
}
