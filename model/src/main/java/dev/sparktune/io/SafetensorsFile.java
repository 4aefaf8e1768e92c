package dev.sparktune.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A safetensors file opened for reading. The header is read and checked when the file is
 * opened; tensor bytes are memory-mapped on demand, so a multi-gigabyte shard is never copied
 * onto the Java heap and offsets past 2 GiB work.
 *
 * <p>Buffers from {@link #buffer} stay readable after {@link #close()}; arrays from
 * {@link #load} are copies in native memory owned by the given manager.
 */
public final class SafetensorsFile implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private final SortedMap<String, TensorInfo> byName = new TreeMap<>();
    private boolean closed;

    private SafetensorsFile(Path file, FileChannel channel, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.header = header;
        header.tensors().forEach(t -> byName.put(t.name(), t));
    }

    public static SafetensorsFile open(Path file) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "no such file");
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot open: " + e, e);
        }
        SafetensorsHeader header;
        try {
            header = SafetensorsHeader.read(file, channel);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel, e);
            throw e instanceof CheckpointException c ? c : new CheckpointException(file, null, "cannot read: " + e, e);
        }
        return new SafetensorsFile(file, channel, header);
    }

    public Path file() {
        return file;
    }

    /** The header's {@code __metadata__}, e.g. {@code {"format": "pt"}}; empty when absent. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Every tensor, sorted by name. */
    public List<TensorInfo> tensors() {
        return header.tensors();
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo info = byName.get(name);
        if (info == null) {
            throw new CheckpointException(file, name, "no such tensor in this file; " + neighbours(name));
        }
        return info;
    }

    /** The tensor's bytes, little-endian and read-only, mapped from the file (no copy). */
    public ByteBuffer buffer(String name) {
        TensorInfo info = info(name);
        if (info.length() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' holds " + info.length()
                    + " bytes, more than one ByteBuffer can address; use buffer(name, from, length) for a part of it");
        }
        return buffer(name, 0, (int) info.length());
    }

    /** {@code length} bytes of the tensor starting at byte {@code from} of the tensor, mapped from the file. */
    public ByteBuffer buffer(String name, long from, int length) {
        TensorInfo info = info(name);
        if (from < 0 || length < 0 || from + length > info.length()) {
            throw new IndexOutOfBoundsException(file + ": tensor '" + name + "' holds " + info.length()
                    + " bytes; bytes [" + from + ", " + (from + length) + ") are not inside it");
        }
        ensureOpen();
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, header.dataStart() + info.offset() + from, length)
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new CheckpointException(file, name, "cannot map its bytes: " + e, e);
        }
    }

    /**
     * The tensor as an array owned by {@code manager}, with the file's shape and bits. BF16 and
     * I16 come back widened exactly to FLOAT32 and INT32 (see {@link DType#loadedAs()}).
     */
    public NDArray load(String name, NDManager manager) {
        NDArray array = TensorDecoder.decode(this, info(name), manager);
        array.setName(name);
        return array;
    }

    /** Every tensor, sorted by name. */
    public SortedMap<String, NDArray> loadAll(NDManager manager) {
        SortedMap<String, NDArray> arrays = new TreeMap<>();
        try {
            for (String name : byName.keySet()) {
                arrays.put(name, load(name, manager));
            }
        } catch (RuntimeException e) {
            arrays.values().forEach(NDArray::close);
            throw e;
        }
        return Collections.unmodifiableSortedMap(arrays);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                channel.close();
            } catch (IOException e) {
                throw new CheckpointException(file, null, "cannot close: " + e, e);
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
    }

    /** A few names around where {@code name} would sort: typos in long HF names land next to the right one. */
    private String neighbours(String name) {
        if (byName.isEmpty()) {
            return "the file holds no tensors";
        }
        List<String> before = new ArrayList<>(byName.headMap(name).keySet());
        List<String> around = new ArrayList<>(before.subList(Math.max(0, before.size() - 2), before.size()));
        byName.tailMap(name).keySet().stream().limit(5L - around.size()).forEach(around::add);
        return "it holds " + byName.size() + " tensors, among them "
                + around.stream().map(n -> "'" + n + "'").collect(Collectors.joining(", "));
    }

    private static void closeQuietly(FileChannel channel, Exception failure) {
        try {
            channel.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }
}
