package dev.sparktune.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The weights of a Hugging Face model folder: either one {@code model.safetensors}, or shards
 * {@code model-00001-of-0000K.safetensors} listed by {@code model.safetensors.index.json}.
 * Both are what {@code save_pretrained} writes and {@code from_pretrained} reads.
 */
public final class Checkpoint {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final Map<String, String> FILE_METADATA = Map.of("format", "pt");
    private static final Pattern SHARD_NAME = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");

    private Checkpoint() {
    }

    /**
     * Every tensor of the checkpoint in {@code dir}, sorted by name, owned by {@code manager}. The
     * index is used when present; with an index, the tensors are those its {@code weight_map} lists.
     */
    public static SortedMap<String, NDArray> load(Path dir, NDManager manager) {
        SortedMap<String, NDArray> arrays = new TreeMap<>();
        try {
            forEach(dir, manager, arrays::put);
        } catch (RuntimeException e) {
            arrays.values().forEach(NDArray::close);
            throw e;
        }
        return Collections.unmodifiableSortedMap(arrays);
    }

    /**
     * Loads the tensors of the checkpoint in {@code dir} one at a time, as {@link #load} would, handing each to
     * {@code sink}, which owns it from then on: a caller that keeps only a smaller form of some tensors (a
     * quantized copy) never holds the whole checkpoint in memory.
     */
    public static void forEach(Path dir, NDManager manager, BiConsumer<String, NDArray> sink) {
        Path index = dir.resolve(INDEX_FILE);
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(index)) {
            forEachSharded(dir, CheckpointIndex.read(index), manager, sink);
        } else if (Files.isRegularFile(single)) {
            try (SafetensorsFile file = SafetensorsFile.open(single)) {
                for (TensorInfo t : file.tensors()) {
                    sink.accept(t.name(), file.load(t.name(), manager));
                }
            }
        } else {
            throw new CheckpointException(dir, "holds neither " + SINGLE_FILE + " nor " + INDEX_FILE + "; " + listing(dir));
        }
    }

    /**
     * Writes {@code tensors} into {@code dir}: one {@code model.safetensors} when they fit in
     * {@code maxShardBytes}, else shards of at most that size (a tensor larger than that gets a
     * shard of its own) and the index. Tensors are packed in name order, as Hugging Face packs
     * them in state-dict order. Weight files of an earlier save that this one does not replace
     * are deleted, after the new ones are in place.
     */
    public static void save(Path dir, Map<String, NDArray> tensors, long maxShardBytes) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CheckpointException(dir, null, "cannot create the folder: " + e, e);
        }
        List<SortedMap<String, NDArray>> shards = pack(new TreeMap<>(tensors), maxShardBytes);
        List<String> written = new ArrayList<>();
        if (shards.size() == 1) {
            SafetensorsWriter.write(dir.resolve(SINGLE_FILE), shards.get(0), FILE_METADATA);
            written.add(SINGLE_FILE);
        } else {
            SortedMap<String, String> weightMap = new TreeMap<>();
            long totalSize = 0;
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafetensorsWriter.write(dir.resolve(name), shards.get(i), FILE_METADATA);
                written.add(name);
                for (Map.Entry<String, NDArray> e : shards.get(i).entrySet()) {
                    weightMap.put(e.getKey(), name);
                    totalSize += bytes(e.getValue());
                }
            }
            new CheckpointIndex(totalSize, weightMap).write(dir.resolve(INDEX_FILE));
            written.add(INDEX_FILE);
        }
        deleteStaleWeights(dir, written);
    }

    private static void forEachSharded(Path dir, CheckpointIndex index, NDManager manager,
                                       BiConsumer<String, NDArray> sink) {
        Map<String, List<String>> tensorsByShard = new TreeMap<>();
        index.weightMap().forEach((tensor, shard) -> tensorsByShard.computeIfAbsent(shard, s -> new ArrayList<>()).add(tensor));
        for (Map.Entry<String, List<String>> e : tensorsByShard.entrySet()) {
            Path shard = dir.resolve(e.getKey());
            List<String> names = e.getValue();
            if (!Files.isRegularFile(shard)) {
                throw new CheckpointException(dir.resolve(INDEX_FILE), names.get(0), "is in shard " + e.getKey()
                        + " (with " + (names.size() - 1) + " other tensors), which does not exist; " + listing(dir));
            }
            try (SafetensorsFile file = SafetensorsFile.open(shard)) {
                for (String name : names) {
                    if (!file.contains(name)) {
                        throw new CheckpointException(shard, name, "listed for this shard in " + INDEX_FILE
                                + " but not in it; the shard holds " + file.tensors().size() + " tensors");
                    }
                    sink.accept(name, file.load(name, manager));
                }
            }
        }
    }

    /** Greedy, in name order: a shard is closed when the next tensor would take it past the limit. */
    private static List<SortedMap<String, NDArray>> pack(SortedMap<String, NDArray> tensors, long maxShardBytes) {
        List<SortedMap<String, NDArray>> shards = new ArrayList<>();
        SortedMap<String, NDArray> shard = new TreeMap<>();
        long shardBytes = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            long size = bytes(e.getValue());
            if (!shard.isEmpty() && shardBytes + size > maxShardBytes) {
                shards.add(shard);
                shard = new TreeMap<>();
                shardBytes = 0;
            }
            shard.put(e.getKey(), e.getValue());
            shardBytes += size;
        }
        shards.add(shard);
        return shards;
    }

    private static long bytes(NDArray array) {
        return array.size() * array.getDataType().getNumOfBytes();
    }

    private static void deleteStaleWeights(Path dir, List<String> written) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.toList()) {
                String name = file.getFileName().toString();
                boolean weights = name.equals(SINGLE_FILE) || name.equals(INDEX_FILE) || SHARD_NAME.matcher(name).matches();
                if (weights && !written.contains(name)) {
                    Files.delete(file);
                }
            }
        } catch (IOException e) {
            throw new CheckpointException(dir, null, "cannot remove weight files of an earlier save: " + e, e);
        }
    }

    private static String listing(Path dir) {
        if (!Files.isDirectory(dir)) {
            return "the folder does not exist";
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            if (names.isEmpty()) {
                return "the folder is empty";
            }
            String more = names.size() > 20 ? " and " + (names.size() - 20) + " more" : "";
            return "the folder holds " + String.join(", ", names.subList(0, Math.min(20, names.size()))) + more;
        } catch (IOException e) {
            return "the folder cannot be listed: " + e;
        }
    }
}
