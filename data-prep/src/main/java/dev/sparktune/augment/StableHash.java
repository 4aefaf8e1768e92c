package dev.sparktune.augment;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * SHA-256 over a list of parts (separated by a NUL, so {@code ("ab","c")} and {@code ("a","bc")} differ): the
 * source of every id, cache key and random stream in augmentation, so results depend only on the seed and the data,
 * never on partitioning, executor or run.
 */
public final class StableHash {
    private StableHash() {
    }

    public static byte[] sha256(String... parts) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < parts.length; i++) {
                if (i > 0) {
                    digest.update((byte) 0);
                }
                digest.update(parts[i].getBytes(StandardCharsets.UTF_8));
            }
            return digest.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** The first 128 bits as 32 hex digits. */
    public static String hex(String... parts) {
        return HexFormat.of().formatHex(sha256(parts), 0, 16);
    }

    /** A uniform double in [0, 1). */
    public static double uniform(String... parts) {
        return (ByteBuffer.wrap(sha256(parts)).getLong() >>> 11) * 0x1.0p-53;
    }

    /** A random stream seeded by the parts. */
    public static SplittableRandom random(String... parts) {
        return new SplittableRandom(ByteBuffer.wrap(sha256(parts)).getLong());
    }

    /** The id of an augmented copy: the parent's id, the method and the copy's number. */
    public static String childId(String parentId, AugmentMethod method, int variant) {
        return hex("aug", parentId, method.label(), Integer.toString(variant));
    }
}
