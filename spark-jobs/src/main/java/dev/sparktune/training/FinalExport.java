package dev.sparktune.training;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.LocalFolders;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CheckpointFence;
import dev.sparktune.train.OutputFolder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;

/**
 * Rank 0's last act: the trained model beside the checkpoints, in the form Hugging Face tools load. Methods PEFT
 * knows (LoRA, adapters, prefix and prompt tuning) give {@code <output_dir>/adapter} ({@code adapter_config.json} +
 * {@code adapter_model.safetensors}, on top of {@code model_name_or_path}); methods that change the base weights
 * (full, freeze, BitFit) give a whole model folder {@code <output_dir>/model}. Written to a hidden folder first and
 * renamed into place, so a reader never sees half an export.
 *
 * <p>A classifier's export carries its class names the way Hugging Face reads them: the model folder's
 * {@code config.json} gets {@code id2label}, {@code label2id}, {@code num_labels} and the architecture
 * {@code BertForSequenceClassification}; an adapter folder gets the same {@code config.json} beside
 * {@code adapter_config.json} (PEFT ignores it; {@code FineTunedModel} reads the names from it).
 */
final class FinalExport {
    static final String ADAPTER = "adapter";
    static final String MODEL = "model";
    static final String TASKS = "tasks";

    private FinalExport() {
    }

    /** Whether a {@code method.finetuning_type} changes the base weights, so its export is a whole model folder. */
    static boolean wholeModel(String finetuningType) {
        return Set.of("full", "freeze", "bitfit").contains(finetuningType);
    }

    /** A classification task of the run: its name, its head in the trained model and its class names. */
    record Classifier(String task, String head, LabelsFile labels) {
    }

    /**
     * Writes the export and returns its fully qualified location ({@code file:/...}, {@code hdfs://...}). With
     * several classification tasks, each also gets an export of its own, {@code <output_dir>/tasks/<task>/adapter}
     * (or {@code /model}): its head as {@code classifier}, its class names ({@link TaskExport}).
     *
     * @param classifiers the run's classification tasks; the one whose head is {@code classifier} names the
     *                    classes of the main export
     * @param fence       the writer's claim on {@code output} (null outside a Spark stage): checked before the old
     *                    export is replaced, so a rank 0 left over from an earlier stage attempt cannot overwrite the
     *                    newer attempt's export
     */
    static String write(PeftModel model, String finetuningType, ModelDirectory base, String baseLocation,
                        OutputFolder output, List<Classifier> classifiers, CheckpointFence fence) {
        boolean wholeModel = wholeModel(finetuningType);
        String name = wholeModel ? MODEL : ADAPTER;
        Optional<LabelsFile> labels = classifiers.stream().filter(c -> c.head().equals(Bert.CLASSIFIER)).findFirst()
                .map(Classifier::labels);
        Path scratch = null;
        try {
            scratch = Files.createTempDirectory("sparktune-export-");
            Path local = scratch.resolve(name);
            String config = labels.map(l -> classifierConfig(base.configJson(), l)).orElse(base.configJson());
            if (wholeModel) {
                ModelDirectory.write(local, config, model.weights().asMap(), Long.MAX_VALUE, base.path());
            } else {
                PeftFormat.save(model, local, baseLocation);
                if (labels.isPresent()) {
                    Files.writeString(local.resolve(ModelDirectory.CONFIG_FILE), config, StandardCharsets.UTF_8);
                }
            }
            if (classifiers.size() > 1) {
                for (Classifier c : classifiers) {
                    TaskExport.write(local, scratch.resolve(TASKS).resolve(c.task()).resolve(name), c.head(),
                            classifierConfig(base.configJson(), c.labels()));
                }
                commit(scratch.resolve(TASKS), output, TASKS, fence);
            }
            return commit(local, output, name, fence);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot export the trained model to " + output.resolve(name) + ": " + e, e);
        } finally {
            LocalFolders.deleteQuietly(scratch);
        }
    }

    /** Copies a local folder to {@code <output>/<name>} through a hidden folder and a rename; returns its location. */
    private static String commit(Path local, OutputFolder output, String name, CheckpointFence fence)
            throws IOException {
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(output.resolve(name));
        org.apache.hadoop.fs.Path hidden = new org.apache.hadoop.fs.Path(output.resolve("." + name + "." + UUID.randomUUID()));
        FileSystem fs = HadoopFiles.fileSystem(target, output.conf());     // raw on local disks: no .crc files
        try {
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), hidden);
            if (fence != null) {
                fence.check("replace the export " + target);
            }
            fs.delete(target, true);
            if (!fs.rename(hidden, target)) {
                throw new IOException("cannot rename " + hidden + " to " + target);
            }
            return fs.makeQualified(target).toString();
        } catch (IOException | RuntimeException e) {
            deleteQuietly(fs, hidden);
            throw e;
        }
    }

    /** The base model's config.json as a sequence classifier's, with the class names. */
    static String classifierConfig(String configJson, LabelsFile labels) {
        JsonObject config = labels.addTo(JsonParser.parseString(configJson).getAsJsonObject());
        JsonArray architectures = new JsonArray();
        architectures.add("BertForSequenceClassification");
        config.add("architectures", architectures);
        return new GsonBuilder().setPrettyPrinting().create().toJson(config) + "\n";
    }

    private static void deleteQuietly(FileSystem fs, org.apache.hadoop.fs.Path folder) {
        if (fs == null) {
            return;
        }
        try {
            fs.delete(folder, true);
        } catch (IOException ignored) {
            // the export already failed with a better message; a hidden leftover does not look like an export
        }
    }
}
