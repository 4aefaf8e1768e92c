package dev.sparktune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.sparktune.io.CheckpointException;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.SafetensorsWriter;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training checkpoints of one run, as folders {@code checkpoint-<step>} in the output folder
 * (Hugging Face Trainer's layout) on any Hadoop file system ({@code file://}, {@code hdfs://},
 * {@code s3a://}), each holding
 * <ul>
 *   <li>{@code model.safetensors}: the trainable tensors by parameter name;</li>
 *   <li>{@code optimizer.safetensors}: optimizer state tensors named {@code <parameter>/<state>};</li>
 *   <li>{@code trainer_state.json}: the {@link TrainerState};</li>
 *   <li>{@code _SUCCESS}: written last; a folder without it is incomplete and never resumed from.</li>
 * </ul>
 * A save writes a hidden temporary folder named after the step and its writer, renames it into
 * place, then writes {@code _SUCCESS}, and finally removes the oldest complete checkpoints beyond
 * {@code save_total_limit}. Only a writer that claimed the folder ({@link #writingAs}) saves, and
 * it checks its {@link CheckpointFence} right before every rename, marker and removal, so a writer
 * from an older stage attempt cannot commit or delete once a newer one has claimed the folder.
 * Every file-system operation of checkpointing lives in this class and {@link CheckpointFence}.
 * Folders are named by their location: the output folder's location, qualified by its file
 * system (e.g.
 * {@code hdfs://namenode:8020/runs/x/checkpoint-40}, {@code file:/tmp/run/checkpoint-40}).
 *
 * <p>Safetensors files are written and read as local files: directly on the local file system,
 * through a local temporary copy on any other.
 */
public final class TrainingCheckpoints {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingCheckpoints.class);
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";
    public static final String SUCCESS_MARKER = "_SUCCESS";
    static final String OPTIMIZER_NAME_SEPARATOR = "/";

    private static final Map<String, String> FILE_METADATA = Map.of("format", "pt");
    private static final Pattern FOLDER_NAME = Pattern.compile("checkpoint-(\\d+)");
    /**
     * Temporary folders of saves in progress ({@code .checkpoint-<step>.w<generation>-a<attempt>.<uuid>.tmp}; older
     * versions wrote them without the writer), and complete checkpoints being replaced.
     */
    private static final Pattern LEFTOVER_NAME =
            Pattern.compile("\\.checkpoint-\\d+\\.(w\\d+-a\\d+\\.)?[0-9a-f-]+\\.(tmp|old)");

    private final Configuration conf;
    private final FileSystem fs;
    private final Path outputDir;
    private final int saveTotalLimit;
    /** Null for an instance that only reads. */
    private final CheckpointFence fence;

    /**
     * The checkpoints in {@code outputDir}, a URI such as {@code hdfs://namenode:8020/runs/x} or a
     * path that {@code conf}'s {@code fs.defaultFS} resolves.
     */
    public TrainingCheckpoints(Configuration conf, String outputDir, int saveTotalLimit) {
        if (saveTotalLimit < 1) {
            throw new IllegalArgumentException("save_total_limit must be at least 1, got " + saveTotalLimit);
        }
        Path dir = new Path(outputDir);
        try {
            this.fs = HadoopFiles.fileSystem(dir, conf);
        } catch (IOException e) {
            throw new CheckpointException(outputDir, null, "cannot open its file system: " + e, e);
        }
        this.conf = conf;
        this.outputDir = fs.makeQualified(dir);
        this.saveTotalLimit = saveTotalLimit;
        this.fence = null;
    }

    private TrainingCheckpoints(TrainingCheckpoints readOnly, CheckpointFence fence) {
        this.conf = readOnly.conf;
        this.fs = readOnly.fs;
        this.outputDir = readOnly.outputDir;
        this.saveTotalLimit = readOnly.saveTotalLimit;
        this.fence = fence;
    }

    /** The same checkpoints, saved (and pruned) by the writer that holds {@code fence}, a claim on this folder. */
    public TrainingCheckpoints writingAs(CheckpointFence fence) {
        if (!fence.folder().equals(outputDir)) {
            throw new IllegalArgumentException("the claim is on " + fence.folder() + ", not on " + outputDir);
        }
        return new TrainingCheckpoints(this, fence);
    }

    /** The checkpoints in a folder on the local file system. */
    public TrainingCheckpoints(java.nio.file.Path outputDir, int saveTotalLimit) {
        this(new Configuration(), OutputFolder.localLocation(outputDir), saveTotalLimit);
    }

    /** {@code <parameter>/<state>}, the name of an optimizer state tensor in {@code optimizer.safetensors}. */
    public static String optimizerTensorName(String parameter, String state) {
        return parameter + OPTIMIZER_NAME_SEPARATOR + state;
    }

    /** The location of the checkpoint folder at {@code step}, whether or not it exists. */
    public String folder(long step) {
        return folderPath(step).toString();
    }

    private Path folderPath(long step) {
        return new Path(outputDir, "checkpoint-" + step);
    }

    /**
     * Saves a checkpoint named after {@code state.globalStep()} and returns its folder's location. A
     * checkpoint already there with that step is replaced. Incomplete checkpoints and leftovers of
     * interrupted saves are removed first; complete ones beyond the limit, oldest first, after.
     */
    public String save(TrainerState state, Map<String, NDArray> model, Map<String, NDArray> optimizer) {
        if (fence == null) {
            throw new IllegalStateException("claim " + outputDir + " before saving into it: "
                    + "writingAs(CheckpointFence.claim(...))");
        }
        for (String name : optimizer.keySet()) {
            int slash = name.lastIndexOf(OPTIMIZER_NAME_SEPARATOR);
            if (slash <= 0 || slash == name.length() - 1) {
                throw new IllegalArgumentException("optimizer tensor '" + name + "' must be named <parameter>/<state>, e.g. "
                        + optimizerTensorName("model.layers.0.self_attn.q_proj.weight", "exp_avg"));
            }
        }
        long step = state.globalStep();
        Path target = folderPath(step);
        Path temporary = new Path(outputDir, ".checkpoint-" + step + ".w" + fence.generation() + "-a" + fence.attempt()
                + "." + UUID.randomUUID() + ".tmp");
        try {
            mkdirs(outputDir);
            fence.check("remove incomplete checkpoints");
            removeIncomplete();
            mkdirs(temporary);
            writeTensors(new Path(temporary, MODEL_FILE), model);
            writeTensors(new Path(temporary, OPTIMIZER_FILE), optimizer);
            HadoopFiles.writeDurably(fs, new Path(temporary, STATE_FILE), state.toJson());

            Path replaced = null;
            if (fs.exists(target)) {
                replaced = new Path(outputDir, ".checkpoint-" + step + "." + UUID.randomUUID() + ".old");
                fence.check("replace " + target.getName());
                rename(target, replaced);
            }
            fence.check("commit " + target.getName());
            rename(temporary, target);
            // The marker, not the rename, is the commit: on object stores (s3a) a folder rename
            // copies file by file and is not atomic, but creating one small file is. It is created
            // only in the folder as it stands: a folder another writer removed meanwhile is not
            // recreated holding the marker alone.
            fence.check("commit " + target.getName());
            HadoopFiles.writeMarker(fs, new Path(target, SUCCESS_MARKER));
            if (replaced != null) {
                fs.delete(replaced, true);
            }
            prune(step);
        } catch (IOException e) {
            throw new CheckpointException(target.toString(), null, "cannot save the checkpoint: " + e, e);
        } finally {
            try {
                fs.delete(temporary, true);
            } catch (IOException ignored) {
                // the save already failed with a better message, or the next save removes it
            }
        }
        return target.toString();
    }

    private void writeTensors(Path file, Map<String, NDArray> tensors) throws IOException {
        HadoopFiles.writeLocally(fs, file, local -> SafetensorsWriter.write(local, tensors, FILE_METADATA));
    }

    /** The locations of the complete checkpoints (those with {@code _SUCCESS}), oldest step first. */
    public List<String> complete() {
        return completeFolders().stream().map(Path::toString).toList();
    }

    private List<Path> completeFolders() {
        List<Path> folders = new ArrayList<>();
        for (Path folder : checkpointFolders()) {
            if (isFile(fs, new Path(folder, SUCCESS_MARKER))) {
                folders.add(folder);
            }
        }
        return folders;
    }

    /** The complete checkpoint with the highest step, the one a resumed run continues from. */
    public Optional<String> latest() {
        List<String> folders = complete();
        return folders.isEmpty() ? Optional.empty() : Optional.of(folders.get(folders.size() - 1));
    }

    /** Loads {@link #latest()}, when there is one. */
    public Optional<LoadedCheckpoint> loadLatest(NDManager manager) {
        return latest().map(folder -> load(conf, folder, manager));
    }

    /** Loads the checkpoint in a local {@code folder}; its tensors belong to {@code manager}. */
    public static LoadedCheckpoint load(java.nio.file.Path folder, NDManager manager) {
        return load(new Configuration(), OutputFolder.localLocation(folder), manager);
    }

    /**
     * Loads the checkpoint whose folder is at {@code folder} (a URI, or a path {@code conf}'s
     * {@code fs.defaultFS} resolves); its tensors belong to {@code manager}.
     */
    public static LoadedCheckpoint load(Configuration conf, String folder, NDManager manager) {
        Path dir = new Path(folder);
        FileSystem fs;
        try {
            fs = HadoopFiles.fileSystem(dir, conf);
            if (!fs.getFileStatus(dir).isDirectory()) {
                throw new CheckpointException(folder, "is a file, not a checkpoint folder");
            }
        } catch (FileNotFoundException e) {
            throw new CheckpointException(folder, "no such checkpoint folder");
        } catch (IOException e) {
            throw new CheckpointException(folder, null, "cannot read: " + e, e);
        }
        if (!isFile(fs, new Path(dir, SUCCESS_MARKER))) {
            throw new CheckpointException(folder, "has no " + SUCCESS_MARKER + " marker: the run stopped while "
                    + "saving it, so it may be incomplete; resume from an earlier checkpoint");
        }
        Path stateFile = new Path(dir, STATE_FILE);
        TrainerState state;
        try {
            state = TrainerState.fromJson(stateFile.toString(), HadoopFiles.readString(fs, stateFile));
        } catch (FileNotFoundException e) {
            throw new CheckpointException(stateFile.toString(), "no such file; the checkpoint is damaged, resume from an earlier one");
        } catch (IOException e) {
            throw new CheckpointException(stateFile.toString(), null, "cannot read: " + e, e);
        }
        Optional<Long> named = stepOf(dir.getName());
        if (named.isPresent() && named.get() != state.globalStep()) {
            throw new CheckpointException(stateFile.toString(), "says global_step " + state.globalStep() + " but lies in "
                    + dir.getName() + "; the checkpoint folder was renamed or its files mixed up");
        }
        SortedMap<String, NDArray> model = loadTensors(fs, new Path(dir, MODEL_FILE), manager);
        try {
            return new LoadedCheckpoint(folder, state, model, loadTensors(fs, new Path(dir, OPTIMIZER_FILE), manager));
        } catch (RuntimeException e) {
            model.values().forEach(NDArray::close);
            throw e;
        }
    }

    private static SortedMap<String, NDArray> loadTensors(FileSystem fs, Path file, NDManager manager) {
        try {
            return HadoopFiles.readLocally(fs, file, local -> {
                try (SafetensorsFile tensors = SafetensorsFile.open(local)) {
                    return tensors.loadAll(manager);
                }
            });
        } catch (FileNotFoundException e) {
            throw new CheckpointException(file.toString(), "no such file; the checkpoint is damaged, resume from an earlier one");
        } catch (IOException e) {
            throw new CheckpointException(file.toString(), null, "cannot read: " + e, e);
        }
    }

    /** Folders named {@code checkpoint-<step>}, complete or not, oldest step first. */
    private List<Path> checkpointFolders() {
        List<Path> folders = new ArrayList<>();
        for (FileStatus entry : list(outputDir)) {
            String name = entry.getPath().getName();
            if (entry.isDirectory() && FOLDER_NAME.matcher(name).matches()) {
                if (stepOf(name).isEmpty()) {
                    LOG.warn("ignoring {} in {}: its step does not fit a 64-bit number, so it is no checkpoint of"
                            + " this trainer", name, outputDir);
                    continue;
                }
                // named from the output folder, so locations keep the form it was given in
                folders.add(new Path(outputDir, name));
            }
        }
        folders.sort(Comparator.comparingLong(TrainingCheckpoints::step));
        return folders;
    }

    private FileStatus[] list(Path dir) {
        try {
            return fs.listStatus(dir);
        } catch (FileNotFoundException e) {
            return new FileStatus[0];
        } catch (IOException e) {
            throw new CheckpointException(dir.toString(), null, "cannot list checkpoints: " + e, e);
        }
    }

    private static long step(Path folder) {
        return stepOf(folder.getName()).orElseThrow(() -> new IllegalStateException("not a checkpoint folder: "
                + folder));
    }

    /** The step a {@code checkpoint-<step>} name holds; empty for another name or a step past {@code long}. */
    static Optional<Long> stepOf(String name) {
        Matcher m = FOLDER_NAME.matcher(name);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(m.group(1)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private void removeIncomplete() throws IOException {
        for (Path folder : checkpointFolders()) {
            if (!isFile(fs, new Path(folder, SUCCESS_MARKER))) {
                fs.delete(folder, true);
            }
        }
        for (FileStatus entry : list(outputDir)) {
            if (LEFTOVER_NAME.matcher(entry.getPath().getName()).matches()) {
                fs.delete(entry.getPath(), true);
            }
        }
    }

    /** Keeps the newest {@code save_total_limit} complete checkpoints, and always the one just saved. */
    private void prune(long justSaved) throws IOException {
        List<Path> folders = new ArrayList<>(completeFolders());
        folders.removeIf(f -> step(f) == justSaved);
        for (int i = 0; i < folders.size() - (saveTotalLimit - 1); i++) {
            Path folder = folders.get(i);
            fence.check("remove " + folder.getName() + " (save_total_limit " + saveTotalLimit + ")");
            // The marker goes first: a removal cut short must leave an incomplete folder, not a
            // "complete" checkpoint with files missing.
            fs.delete(new Path(folder, SUCCESS_MARKER), false);
            fs.delete(folder, true);
        }
    }

    private void mkdirs(Path dir) throws IOException {
        if (!fs.mkdirs(dir)) {
            throw new IOException("cannot create the folder " + dir);
        }
    }

    /** Hadoop's rename reports most failures by returning false. */
    private void rename(Path from, Path to) throws IOException {
        if (!fs.rename(from, to)) {
            throw new IOException("cannot rename " + from + " to " + to);
        }
    }

    private static boolean isFile(FileSystem fs, Path file) {
        try {
            return fs.getFileStatus(file).isFile();
        } catch (FileNotFoundException e) {
            return false;
        } catch (IOException e) {
            throw new CheckpointException(file.toString(), null, "cannot read: " + e, e);
        }
    }
}
