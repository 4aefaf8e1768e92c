package dev.sparktune.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.config.DataConfig;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.ingest.DatasetRegistry;
import dev.sparktune.io.HadoopFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * What {@code sparktune run} knows about the steps it finished: one JSON file per step in
 * {@code <train.output_dir>/_run/}, {@code <step>.json}, holding the fingerprint of the step's inputs when it last
 * succeeded. Training also records {@code train.started.json} before it starts, so that a retry can tell its own
 * checkpoints (resume) from those of other inputs (start afresh).
 *
 * <p>A step's fingerprint is SHA-256 over the resolved config sections it reads ({@link RunStep#sections()}, as
 * {@link LoadedConfig#toYaml()} writes them, defaults included) and its upstream step's fingerprint; prep's also
 * covers the listing (path, length, modification time) of the dataset registry file, of the files of each dataset
 * the job reads and of the model folder, so new or changed data or model files rerun every step. A moved folder
 * (absolute paths differ) or a copied file (its modification time differs) counts as changed. Any Hadoop file system.
 */
final class StepMarkers {
    static final String FOLDER = "_run";
    private static final String STARTED = ".started";

    private final FileSystem fs;
    private final Path folder;

    StepMarkers(String outputDir, Configuration conf) {
        try {
            Path output = new Path(HadoopFiles.qualify(outputDir, conf));
            this.fs = output.getFileSystem(conf);
            this.folder = new Path(output, FOLDER);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open train.output_dir " + outputDir + ": " + e, e);
        }
    }

    /** Every step's fingerprint for {@code config}, whether or not the step runs this time. */
    static Map<RunStep, String> fingerprints(LoadedConfig config, Configuration conf) {
        Map<RunStep, String> fingerprints = new EnumMap<>(RunStep.class);
        for (RunStep step : RunStep.values()) {
            StringBuilder inputs = new StringBuilder("sparktune-run\n").append(step.label()).append('\n');
            if (step.upstream() != null) {
                inputs.append("upstream ").append(fingerprints.get(step.upstream())).append('\n');
            }
            Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
            for (String section : step.sections()) {
                sections.put(section, config.values().get(section));
            }
            inputs.append(new LoadedConfig(config.source(), config.job(), sections).toYaml());
            if (step == RunStep.PREP) {
                inputs.append(dataFiles(config.job().data(), conf));
                inputs.append("model\n").append(listing(config.job().model().modelNameOrPath(), conf));
            }
            fingerprints.put(step, sha256(inputs.toString()));
        }
        return fingerprints;
    }

    /** The fingerprint {@code step} last succeeded with, or null (never, or an unreadable marker: run it again). */
    String finished(RunStep step) {
        return read(new Path(folder, step.label() + ".json"));
    }

    /** How long {@code step} took when it last succeeded, or null (never, or an unreadable marker). */
    Duration took(RunStep step) {
        JsonObject json = readJson(new Path(folder, step.label() + ".json"));
        return json != null && json.has("seconds")
                ? Duration.ofMillis(Math.round(json.get("seconds").getAsDouble() * 1000)) : null;
    }

    /** The fingerprint {@code step} was last started with, or null. */
    String started(RunStep step) {
        return read(new Path(folder, step.label() + STARTED + ".json"));
    }

    void recordStart(RunStep step, String fingerprint) {
        JsonObject json = new JsonObject();
        json.addProperty("step", step.label());
        json.addProperty("fingerprint", fingerprint);
        json.addProperty("started", Instant.now().toString());
        write(new Path(folder, step.label() + STARTED + ".json"), json);
    }

    void recordFinish(RunStep step, String fingerprint, Duration took) {
        JsonObject json = new JsonObject();
        json.addProperty("step", step.label());
        json.addProperty("fingerprint", fingerprint);
        json.addProperty("finished", Instant.now().toString());
        json.addProperty("seconds", took.toMillis() / 1000.0);
        write(new Path(folder, step.label() + ".json"), json);
    }

    private String read(Path file) {
        JsonObject json = readJson(file);
        return json != null && json.has("fingerprint") ? json.get("fingerprint").getAsString() : null;
    }

    private JsonObject readJson(Path file) {
        try {
            if (!fs.exists(file)) {
                return null;
            }
            return JsonParser.parseString(HadoopFiles.readString(fs, file)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Writes a hidden temporary file, then renames it over {@code file}: a reader sees the old marker, none, or the
     * new one, never half of one (no marker only reruns the step).
     */
    private void write(Path file, JsonObject json) {
        Path temporary = new Path(folder, "." + file.getName() + "." + UUID.randomUUID() + ".tmp");
        try {
            fs.mkdirs(folder);
            HadoopFiles.writeDurably(fs, temporary, json + "\n");
            if (fs.exists(file) && !fs.delete(file, false)) {
                throw new IOException("cannot replace " + file);
            }
            if (!fs.rename(temporary, file)) {
                throw new IOException("cannot rename " + temporary + " to " + file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the step in " + file + ": " + e.getMessage(), e);
        } finally {
            try {
                fs.delete(temporary, false);
            } catch (IOException ignored) {
                // the rename moved it, or the write failed and said so
            }
        }
    }

    /**
     * The registry file and the files of every dataset the job reads ({@code data.dataset}, {@code eval_dataset}),
     * each {@code file_name} resolved as prep resolves it (a file, folder or glob under {@code data.dataset_dir}). A
     * registry or dataset that cannot be resolved adds its error instead: prep then stops with its own message.
     */
    private static String dataFiles(DataConfig data, Configuration conf) {
        StringBuilder files = new StringBuilder();
        Path registryFile = DatasetRegistry.location(data);
        files.append("dataset_info\n").append(listing(registryFile.toString(), conf));
        try {
            DatasetRegistry registry = DatasetRegistry.load(registryFile, conf);
            List<String> names = new ArrayList<>(data.dataset());
            names.addAll(data.evalDataset());
            for (String name : names) {
                Path pattern = new Path(registry.get(name).fileName());
                if (!pattern.isAbsolute() && pattern.toUri().getScheme() == null) {
                    pattern = new Path(data.datasetDir(), pattern.toString());
                }
                files.append("dataset ").append(name).append('\n').append(listing(pattern.toString(), conf));
            }
        } catch (RuntimeException e) {
            files.append("unresolved: ").append(e.getMessage()).append('\n');
        }
        return files.toString();
    }

    /**
     * Every file under {@code location} (a file, a folder or a Hadoop glob) as {@code path length mtime}, sorted;
     * {@code absent} when nothing matches.
     */
    static String listing(String location, Configuration conf) {
        if (location == null) {
            return "unset\n";
        }
        try {
            Path pattern = new Path(HadoopFiles.qualify(location, conf));
            FileSystem fs = pattern.getFileSystem(conf);
            FileStatus[] matches = fs.globStatus(pattern);
            if (matches == null || matches.length == 0) {
                return "absent\n";
            }
            List<String> lines = new ArrayList<>();
            for (FileStatus match : matches) {
                if (match.isFile()) {
                    lines.add(line(match));
                } else {
                    RemoteIterator<LocatedFileStatus> files = fs.listFiles(match.getPath(), true);
                    while (files.hasNext()) {
                        lines.add(line(files.next()));
                    }
                }
            }
            lines.sort(null);
            return String.join("\n", lines) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + location + ": " + e.getMessage(), e);
        }
    }

    private static String line(FileStatus file) {
        return file.getPath().toUri().getPath() + " " + file.getLen() + " " + file.getModificationTime();
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
