package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The training checkpoints of one run, as folders {@code checkpoint-<step>} in the output folder
 * (Hugging Face Trainer's layout), each holding
 * <ul>
 *   <li>{@code model.safetensors}: the trainable tensors by parameter name;</li>
 *   <li>{@code optimizer.safetensors}: optimizer state tensors named {@code <parameter>/<state>};</li>
 *   <li>{@code trainer_state.json}: the {@link TrainerState};</li>
 *   <li>{@code _SUCCESS}: written last; a folder without it is incomplete and never resumed from.</li>
 * </ul>
 * A save writes a hidden temporary folder, renames it into place, then writes {@code _SUCCESS},
 * and finally removes the oldest complete checkpoints beyond {@code save_total_limit}. Every
 * file-system operation of checkpointing lives in this class.
 */
public final class TrainingCheckpoints {
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";
    public static final String SUCCESS_MARKER = "_SUCCESS";
    static final String OPTIMIZER_NAME_SEPARATOR = "/";

    private static final Map<String, String> FILE_METADATA = Map.of("format", "pt");
    private static final Pattern FOLDER_NAME = Pattern.compile("checkpoint-(\\d+)");
    /** Temporary folders of saves in progress, and complete checkpoints being replaced or removed. */
    private static final Pattern LEFTOVER_NAME = Pattern.compile("\\.checkpoint-\\d+\\.[0-9a-f-]+\\.(tmp|old)");

    private final Path outputDir;
    private final int saveTotalLimit;

    public TrainingCheckpoints(Path outputDir, int saveTotalLimit) {
        if (saveTotalLimit < 1) {
            throw new IllegalArgumentException("save_total_limit must be at least 1, got " + saveTotalLimit);
        }
        this.outputDir = outputDir;
        this.saveTotalLimit = saveTotalLimit;
    }

    /** {@code <parameter>/<state>}, the name of an optimizer state tensor in {@code optimizer.safetensors}. */
    public static String optimizerTensorName(String parameter, String state) {
        return parameter + OPTIMIZER_NAME_SEPARATOR + state;
    }

    /** The folder of the checkpoint at {@code step}, whether or not it exists. */
    public Path folder(long step) {
        return outputDir.resolve("checkpoint-" + step);
    }

    /**
     * Saves a checkpoint named after {@code state.globalStep()} and returns its folder. A
     * checkpoint already there with that step is replaced. Incomplete checkpoints and leftovers of
     * interrupted saves are removed first; complete ones beyond the limit, oldest first, after.
     */
    public Path save(TrainerState state, Map<String, NDArray> model, Map<String, NDArray> optimizer) {
        for (String name : optimizer.keySet()) {
            int slash = name.lastIndexOf(OPTIMIZER_NAME_SEPARATOR);
            if (slash <= 0 || slash == name.length() - 1) {
                throw new IllegalArgumentException("optimizer tensor '" + name + "' must be named <parameter>/<state>, e.g. "
                        + optimizerTensorName("model.layers.0.self_attn.q_proj.weight", "exp_avg"));
            }
        }
        long step = state.globalStep();
        Path target = folder(step);
        Path temporary = outputDir.resolve(".checkpoint-" + step + "." + UUID.randomUUID() + ".tmp");
        try {
            Files.createDirectories(outputDir);
            removeIncomplete();
            Files.createDirectory(temporary);
            SafetensorsWriter.write(temporary.resolve(MODEL_FILE), model, FILE_METADATA);
            SafetensorsWriter.write(temporary.resolve(OPTIMIZER_FILE), optimizer, FILE_METADATA);
            writeDurably(temporary.resolve(STATE_FILE), state.toJson());

            Path replaced = null;
            if (Files.exists(target)) {
                replaced = outputDir.resolve(".checkpoint-" + step + "." + UUID.randomUUID() + ".old");
                Files.move(target, replaced, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            // The marker, not the rename, is the commit: on object stores (s3a) a folder rename
            // copies file by file and is not atomic, but creating one small file is.
            writeDurably(target.resolve(SUCCESS_MARKER), "");
            if (replaced != null) {
                deleteRecursively(replaced);
            }
            prune(step);
        } catch (IOException e) {
            throw new CheckpointException(target, null, "cannot save the checkpoint: " + e, e);
        } finally {
            try {
                deleteRecursively(temporary);
            } catch (IOException ignored) {
                // the save already failed with a better message, or the next save removes it
            }
        }
        return target;
    }

    /** The complete checkpoints (those with {@code _SUCCESS}), oldest step first. */
    public List<Path> complete() {
        List<Path> folders = new ArrayList<>();
        for (Path folder : checkpointFolders()) {
            if (Files.isRegularFile(folder.resolve(SUCCESS_MARKER))) {
                folders.add(folder);
            }
        }
        return folders;
    }

    /** The complete checkpoint with the highest step, the one a resumed run continues from. */
    public Optional<Path> latest() {
        List<Path> folders = complete();
        return folders.isEmpty() ? Optional.empty() : Optional.of(folders.get(folders.size() - 1));
    }

    /** Loads {@link #latest()}, when there is one. */
    public Optional<LoadedCheckpoint> loadLatest(NDManager manager) {
        return latest().map(folder -> load(folder, manager));
    }

    /** Loads the checkpoint in {@code folder}; its tensors belong to {@code manager}. */
    public static LoadedCheckpoint load(Path folder, NDManager manager) {
        if (!Files.isDirectory(folder)) {
            throw new CheckpointException(folder, "no such checkpoint folder");
        }
        if (!Files.isRegularFile(folder.resolve(SUCCESS_MARKER))) {
            throw new CheckpointException(folder, "has no " + SUCCESS_MARKER + " marker: the run stopped while "
                    + "saving it, so it may be incomplete; resume from an earlier checkpoint");
        }
        Path stateFile = folder.resolve(STATE_FILE);
        TrainerState state;
        try {
            state = TrainerState.fromJson(stateFile, Files.readString(stateFile, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(stateFile, "no such file; the checkpoint is damaged, resume from an earlier one");
        } catch (IOException e) {
            throw new CheckpointException(stateFile, null, "cannot read: " + e, e);
        }
        Matcher name = FOLDER_NAME.matcher(folder.getFileName().toString());
        if (name.matches() && Long.parseLong(name.group(1)) != state.globalStep()) {
            throw new CheckpointException(stateFile, "says global_step " + state.globalStep() + " but lies in "
                    + folder.getFileName() + "; the checkpoint folder was renamed or its files mixed up");
        }
        SortedMap<String, NDArray> model = loadTensors(folder.resolve(MODEL_FILE), manager);
        try {
            return new LoadedCheckpoint(folder, state, model, loadTensors(folder.resolve(OPTIMIZER_FILE), manager));
        } catch (RuntimeException e) {
            model.values().forEach(NDArray::close);
            throw e;
        }
    }

    private static SortedMap<String, NDArray> loadTensors(Path file, NDManager manager) {
        try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
            return tensors.loadAll(manager);
        }
    }

    /** Folders named {@code checkpoint-<step>}, complete or not, oldest step first. */
    private List<Path> checkpointFolders() {
        if (!Files.isDirectory(outputDir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(outputDir)) {
            return entries.filter(p -> FOLDER_NAME.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p))
                    .sorted(Comparator.comparingLong(TrainingCheckpoints::step))
                    .toList();
        } catch (IOException e) {
            throw new CheckpointException(outputDir, null, "cannot list checkpoints: " + e, e);
        }
    }

    private static long step(Path folder) {
        Matcher m = FOLDER_NAME.matcher(folder.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalStateException("not a checkpoint folder: " + folder);
        }
        return Long.parseLong(m.group(1));
    }

    private void removeIncomplete() throws IOException {
        for (Path folder : checkpointFolders()) {
            if (!Files.isRegularFile(folder.resolve(SUCCESS_MARKER))) {
                deleteRecursively(folder);
            }
        }
        try (Stream<Path> entries = Files.list(outputDir)) {
            for (Path leftover : entries.filter(p -> LEFTOVER_NAME.matcher(p.getFileName().toString()).matches()).toList()) {
                deleteRecursively(leftover);
            }
        }
    }

    /** Keeps the newest {@code save_total_limit} complete checkpoints, and always the one just saved. */
    private void prune(long justSaved) throws IOException {
        List<Path> folders = new ArrayList<>(complete());
        folders.removeIf(f -> step(f) == justSaved);
        for (int i = 0; i < folders.size() - (saveTotalLimit - 1); i++) {
            Path folder = folders.get(i);
            // The marker goes first: a removal cut short must leave an incomplete folder, not a
            // "complete" checkpoint with files missing.
            Files.deleteIfExists(folder.resolve(SUCCESS_MARKER));
            deleteRecursively(folder);
        }
    }

    private static void writeDurably(Path file, String text) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
            channel.force(true);
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> tree = Files.walk(path)) {
            for (Path p : tree.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
