package dev.sparktune.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * The {@code _SUCCESS} marker of a committed output folder, as a manifest: every file the folder held when it was
 * committed (its path relative to the folder) with its size in bytes. It is written last, once the data is in place,
 * so a folder is complete exactly when its marker lists files that are all there with those sizes; an empty
 * {@code _SUCCESS} (Spark's own, or an older sparktune's) does not count.
 *
 * <pre>{"sparktune_commit": 1, "files": {"part-00000.parquet": 5120, "task=spam/_labels.json": 61, ...}}</pre>
 *
 * A manifest rather than a bare marker because on object stores (s3a) a folder rename is a copy per object: a copy
 * that stopped half-way leaves some files and not others, which only a list of what should be there can tell.
 */
public final class CommitMarker {
    public static final String NAME = "_SUCCESS";
    private static final int VERSION = 1;

    private CommitMarker() {
    }

    /**
     * Lists the files under {@code folder} and writes the marker naming them. An existing {@code _SUCCESS} (Spark's
     * empty one) is replaced; the marker is created without recreating a missing folder.
     */
    public static void write(FileSystem fs, Path folder) throws IOException {
        Path marker = new Path(folder, NAME);
        if (fs.exists(marker)) {
            fs.delete(marker, false);
        }
        JsonObject files = new JsonObject();
        listFiles(fs, folder).forEach(files::addProperty);
        JsonObject json = new JsonObject();
        json.addProperty("sparktune_commit", VERSION);
        json.add("files", files);
        if (!fs.exists(folder)) {
            throw new FileNotFoundException(folder + " is gone; not writing " + NAME + " into it");
        }
        try (FSDataOutputStream out = fs.createNonRecursive(marker, false, 4096, fs.getDefaultReplication(marker),
                fs.getDefaultBlockSize(marker), null)) {
            out.write(json.toString().getBytes(StandardCharsets.UTF_8));
            HadoopFiles.sync(out);
        }
    }

    /** Why {@code folder} is not a complete committed output, or empty when it is. */
    public static Optional<String> problem(FileSystem fs, Path folder) throws IOException {
        Path marker = new Path(folder, NAME);
        if (!fs.exists(folder)) {
            return Optional.of("it does not exist");
        }
        if (!fs.exists(marker)) {
            return Optional.of("it has no " + NAME + " marker (its commit never finished)");
        }
        Map<String, Long> listed = listed(fs, marker);
        if (listed == null) {
            return Optional.of("its " + NAME + " marker does not list the committed files (it was written by Spark"
                    + " or an older sparktune)");
        }
        Map<String, Long> present = listFiles(fs, folder);
        for (Map.Entry<String, Long> file : listed.entrySet()) {
            Long size = present.get(file.getKey());
            if (size == null) {
                return Optional.of(file.getKey() + " is missing, though " + NAME + " lists it");
            }
            if (size.longValue() != file.getValue()) {
                return Optional.of(file.getKey() + " holds " + size + " bytes, though " + NAME + " lists "
                        + file.getValue());
            }
        }
        return Optional.empty();
    }

    /** The files the marker lists, or null when it is not a manifest. */
    private static Map<String, Long> listed(FileSystem fs, Path marker) throws IOException {
        try {
            JsonElement json = JsonParser.parseString(HadoopFiles.readString(fs, marker));
            if (!json.isJsonObject() || !json.getAsJsonObject().has("files")) {
                return null;
            }
            Map<String, Long> files = new TreeMap<>();
            for (Map.Entry<String, JsonElement> e : json.getAsJsonObject().getAsJsonObject("files").entrySet()) {
                files.put(e.getKey(), e.getValue().getAsLong());
            }
            return files;
        } catch (RuntimeException unparsable) {
            return null;
        }
    }

    /** Every file under {@code folder} but the marker, by path relative to it, with its size. */
    private static Map<String, Long> listFiles(FileSystem fs, Path folder) throws IOException {
        String root = fs.getFileStatus(folder).getPath().toUri().getPath();
        Map<String, Long> files = new TreeMap<>();
        RemoteIterator<LocatedFileStatus> all = fs.listFiles(folder, true);
        while (all.hasNext()) {
            FileStatus f = all.next();
            String relative = f.getPath().toUri().getPath().substring(root.length()).replaceFirst("^/", "");
            if (!relative.equals(NAME)) {
                files.put(relative, f.getLen());
            }
        }
        return files;
    }
}
