package dev.sparktune.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;

/**
 * Trainable tensors, in name order, laid end to end in flat buckets of at most {@code bucketSize} elements (a
 * tensor larger than that gets a bucket of its own; tensors are never split between buckets). Every rank builds the
 * same layout from the same names and shapes, so bucket k means the same elements everywhere.
 */
record BucketLayout(List<Bucket> buckets) {

    /** One tensor inside a bucket: elements {@code [offset, offset + length)}. */
    record Piece(String name, Shape shape, int offset, int length) {
        int end() {
            return offset + length;
        }
    }

    record Bucket(List<Piece> pieces, int length) {
    }

    static BucketLayout of(SortedMap<String, NDArray> tensors, long bucketSize) {
        List<Bucket> buckets = new ArrayList<>();
        List<Piece> pieces = new ArrayList<>();
        long length = 0;
        for (var e : tensors.entrySet()) {
            long size = e.getValue().getShape().size();
            // a bucket is one direct buffer (FlatBuffer) of at most 2 GiB, whatever the configured bucket size
            long maxElements = Integer.MAX_VALUE / e.getValue().getDataType().getNumOfBytes();
            if (size > maxElements) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' has " + size + " "
                        + e.getValue().getDataType() + " elements; a bucket holds at most " + maxElements + " (2 GiB)");
            }
            if (!pieces.isEmpty() && length + size > Math.min(bucketSize, maxElements)) {
                buckets.add(new Bucket(List.copyOf(pieces), (int) length));
                pieces.clear();
                length = 0;
            }
            pieces.add(new Piece(e.getKey(), e.getValue().getShape(), (int) length, (int) size));
            length += size;
        }
        if (!pieces.isEmpty()) {
            buckets.add(new Bucket(List.copyOf(pieces), (int) length));
        }
        return new BucketLayout(List.copyOf(buckets));
    }

    long elements() {
        return buckets.stream().mapToLong(Bucket::length).sum();
    }

    int largestBucket() {
        return buckets.stream().mapToInt(Bucket::length).max().orElse(0);
    }
}
