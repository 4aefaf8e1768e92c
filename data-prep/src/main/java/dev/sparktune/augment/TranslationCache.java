package dev.sparktune.augment;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Translations kept by content hash in a folder on any Hadoop file system, so a rerun never asks the server again.
 *
 * <p>The key is SHA-256 over (translator id, language pair, text). Each task that translated something adds one
 * file {@code part-<uuid>.jsonl} of {@code {"k": key, "v": translation}} lines, written under a temporary name and
 * renamed, so readers never see half a file. Every JVM keeps the entries it has read in memory and on each
 * {@link #refresh()} reads only the files it has not seen. Duplicate keys from retried tasks are harmless: a key
 * names its text exactly, and any of its translations will do.
 */
public final class TranslationCache {
    private static final Map<String, TranslationCache> OPEN = new ConcurrentHashMap<>();

    private final Path dir;
    private final Configuration conf;
    private final Map<String, String> entries = new ConcurrentHashMap<>();
    private final Set<String> readFiles = ConcurrentHashMap.newKeySet();

    private TranslationCache(Path dir, Configuration conf) {
        this.dir = dir;
        this.conf = conf;
    }

    /** The JVM's cache for this folder. */
    public static TranslationCache open(String dir, Configuration conf) {
        return OPEN.computeIfAbsent(dir, d -> new TranslationCache(new Path(d), conf));
    }

    public static String key(String translatorId, String source, String target, String text) {
        return StableHash.hex("translation", translatorId, source + "|" + target, text);
    }

    /** Reads the files other tasks and runs have added since the last refresh. */
    public synchronized void refresh() {
        try {
            FileSystem fs = dir.getFileSystem(conf);
            if (!fs.exists(dir)) {
                return;
            }
            for (FileStatus status : fs.listStatus(dir)) {
                String name = status.getPath().getName();
                if (name.startsWith("part-") && name.endsWith(".jsonl") && readFiles.add(name)) {
                    read(fs, status.getPath());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the translation cache " + dir
                    + "; check the path and its permissions, or delete it to start afresh", e);
        }
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    /** Writes the given new entries as one file and keeps them in memory. */
    public void add(Map<String, String> added) {
        if (added.isEmpty()) {
            return;
        }
        String name = "part-" + UUID.randomUUID() + ".jsonl";
        Path tmp = new Path(dir, "_tmp-" + name);
        try {
            FileSystem fs = dir.getFileSystem(conf);
            fs.mkdirs(dir);
            try (FSDataOutputStream out = fs.create(tmp, true);
                    Writer writer = new OutputStreamWriter(out, StandardCharsets.UTF_8)) {
                for (Map.Entry<String, String> e : added.entrySet()) {
                    JsonObject line = new JsonObject();
                    line.addProperty("k", e.getKey());
                    line.addProperty("v", e.getValue());
                    writer.write(line.toString());
                    writer.write('\n');
                }
            }
            if (!fs.rename(tmp, new Path(dir, name))) {
                throw new IOException("rename of " + tmp + " failed");
            }
            readFiles.add(name);
            entries.putAll(added);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to the translation cache " + dir
                    + "; check that the folder is writable", e);
        }
    }

    public int size() {
        return entries.size();
    }

    private void read(FileSystem fs, Path file) throws IOException {
        List<String[]> lines = new ArrayList<>();
        try (FSDataInputStream in = fs.open(file);
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonObject json = JsonParser.parseString(line).getAsJsonObject();
                    lines.add(new String[] {json.get("k").getAsString(), json.get("v").getAsString()});
                } catch (RuntimeException malformed) {
                    // files appear only complete (rename), so this is a hand-edited line: it costs a retranslation
                }
            }
        }
        for (String[] kv : lines) {
            entries.put(kv[0], kv[1]);
        }
    }
}
