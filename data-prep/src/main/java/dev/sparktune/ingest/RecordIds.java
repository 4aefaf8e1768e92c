package dev.sparktune.ingest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The stable {@code id} of an ingested row: the first 128 bits of SHA-256 over the dataset name, the source file's
 * path relative to the dataset's root and the record's position in the file, in hex. The same input gives the
 * same id on every run and on every cluster, wherever the dataset folder is mounted.
 */
final class RecordIds {
    private RecordIds() {
    }

    static String of(String dataset, String relativePath, long position) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(dataset.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(relativePath.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(Long.toString(position).getBytes(StandardCharsets.US_ASCII));
            byte[] digest = sha.digest();
            return HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
