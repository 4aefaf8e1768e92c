package dev.sparktune.dist;

/**
 * The split of {@code length} elements into {@code parts} contiguous shards, as even as possible: the first
 * {@code length % parts} shards hold one element more. Shard i is rank i's in reduce-scatter and all-gather.
 */
public record Shards(long length, int parts) {

    public Shards {
        if (length < 0 || parts < 1) {
            throw new IllegalArgumentException("cannot split " + length + " elements into " + parts + " shards");
        }
    }

    public long start(int shard) {
        long base = length / parts;
        long extra = length % parts;
        return shard * base + Math.min(shard, extra);
    }

    public long end(int shard) {
        return start(shard + 1);
    }

    public long size(int shard) {
        return end(shard) - start(shard);
    }
}
