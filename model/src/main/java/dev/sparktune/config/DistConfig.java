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
        long allgatherBucketSize,
        int collectiveTimeoutSeconds,
        int checkpointTimeoutSeconds,
        String networkCidr,
        String ringEncryption) {

    /** DeepSpeed's default, 5e8 elements. */
    public static final long DEFAULT_ALLGATHER_BUCKET_SIZE = 500_000_000L;

    static DistConfig read(Section s) {
        int worldSize = s.integer("world_size", 1, Range.atLeast(1));
        int zeroStage = s.integer("zero_stage", 0, Range.closed(0, 3));
        long reduceBucket = s.longInteger("reduce_bucket_size", 25_000_000L, Range.atLeast(1));
        // stage 3 gathers its partitioned parameters in buckets of this many elements; stages 1 and 2 gather the
        // updated parameters in the reduce buckets, whose shards the reduce-scatter fixed: the key changes nothing there
        long allgatherBucket = s.longInteger("allgather_bucket_size", DEFAULT_ALLGATHER_BUCKET_SIZE, Range.atLeast(1));
        // (the default is accepted at any stage: a resolved config or reference.yaml writes it)
        s.require(zeroStage == 3 || allgatherBucket == DEFAULT_ALLGATHER_BUCKET_SIZE, "allgather_bucket_size",
                "sets how stage 3 gathers its partitioned parameters; stages 1 and 2 all-gather the updated parameters"
                        + " in the buckets of reduce_bucket_size, so at zero_stage " + zeroStage + " it would do nothing:"
                        + " remove the key");
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
        return new DistConfig(worldSize, zeroStage, reduceBucket, allgatherBucket, timeout, checkpointTimeout, cidr,
                ringEncryption);
    }
}
