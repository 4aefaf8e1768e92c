package dev.sparktune.pack;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.io.CommitMarker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * What a tokenized output was made from: SHA-256 over the input rows' content, the tokenizer files' bytes and every
 * option that changes the output. It lives in {@code <tokenized_path>/_fingerprint} (JSON, with its three parts for a
 * person to compare), written once the new output is in place and before its {@code _SUCCESS}; a complete output
 * whose fingerprint equals the current one is reused as it is.
 *
 * <p>The input's content hash is order-independent (a sum of per-row SHA-256 digests, lane by lane, and the row
 * count), so re-partitioned or re-ordered input with the same rows hashes the same. Computing it reads the input once,
 * which is far cheaper than tokenizing it.
 */
final class Fingerprint {
    static final String FILE = "_fingerprint";
    /** Bump when the encoding or packing logic changes what a run writes for the same input. */
    static final int FORMAT_VERSION = 3; // 2: the validation split in _validation/; 3: the test split in _test/

    private Fingerprint() {
    }

    record Parts(String input, String tokenizer, String options) {
        String fingerprint() {
            return sha256(("sparktune-pack\n" + input + "\n" + tokenizer + "\n" + options)
                    .getBytes(StandardCharsets.UTF_8));
        }
    }

    /** @param tokenizerSha256 {@link TokenizerFiles#sha256}: the tokenizer files' content */
    static Parts of(Dataset<Row> prepared, String tokenizerSha256, PackOptions options, int partitions, int window) {
        String opts = "version=" + FORMAT_VERSION
                + ";cutoff_len=" + options.cutoffLen()
                // named only when set, so that outputs tokenized before the key existed keep their fingerprint
                + (options.cutoffTailLen() == 0 ? "" : ";cutoff_tail_len=" + options.cutoffTailLen())
                + ";packing=" + options.packing()
                + ";train_on_prompt=" + options.trainOnPrompt()
                + ";template=" + options.template()
                + ";labels=" + (options.labels() == null ? "discovered" : String.join("\u0000", options.labels()))
                + ";partitions=" + partitions
                + ";window=" + window;
        return new Parts(contentHash(prepared), tokenizerSha256, opts);
    }

    /** Order-independent hash of the rows: each row as JSON, SHA-256, summed in four 64-bit lanes, plus the count. */
    static String contentHash(Dataset<Row> rows) {
        Dataset<String> json = rows.select(functions.to_json(functions.struct(
                Arrays.stream(rows.columns()).map(functions::col).toArray(org.apache.spark.sql.Column[]::new))))
                .as(Encoders.STRING());
        long[] total = json.javaRDD().mapPartitions(Fingerprint::laneSums).fold(new long[5], Fingerprint::add);
        ByteBuffer bytes = ByteBuffer.allocate(8 * total.length);
        for (long lane : total) {
            bytes.putLong(lane);
        }
        return sha256(bytes.array());
    }

    private static Iterator<long[]> laneSums(Iterator<String> rows) {
        long[] sums = new long[5];
        MessageDigest digest = newDigest();
        while (rows.hasNext()) {
            String row = rows.next();
            ByteBuffer hash = ByteBuffer.wrap(digest.digest(String.valueOf(row).getBytes(StandardCharsets.UTF_8)));
            for (int lane = 0; lane < 4; lane++) {
                sums[lane] += hash.getLong();
            }
            sums[4]++;
        }
        return List.of(sums).iterator();
    }

    private static long[] add(long[] a, long[] b) {
        long[] out = new long[a.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    /**
     * The fingerprint a committed output was written with, or null when there is no complete committed output: its
     * {@code _SUCCESS} must list files that are all there with their sizes, so data a commit left half-copied is
     * never reused.
     */
    static String committed(FileSystem fs, Path output) {
        try {
            Path file = new Path(output, FILE);
            if (CommitMarker.problem(fs, output).isPresent() || !fs.exists(file)) {
                return null;
            }
            try (FSDataInputStream in = fs.open(file)) {
                JsonObject json = JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                        .getAsJsonObject();
                return json.has("fingerprint") ? json.get("fingerprint").getAsString() : null;
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable fingerprint means the output cannot be trusted: it is rewritten
            return null;
        }
    }

    static void write(FileSystem fs, Path output, Parts parts) {
        JsonObject json = new JsonObject();
        json.addProperty("fingerprint", parts.fingerprint());
        json.addProperty("input", parts.input());
        json.addProperty("tokenizer", parts.tokenizer());
        json.addProperty("options", parts.options());
        writeText(fs, new Path(output, FILE), GSON.toJson(json));
    }

    static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    static void writeText(FileSystem fs, Path file, String text) {
        try (FSDataOutputStream out = fs.create(file, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    static String readText(FileSystem fs, Path file) {
        try (FSDataInputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newDigest().digest(bytes));
    }
}
