package dev.sparktune.training;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.HadoopFiles;
import dev.sparktune.io.LocalFolders;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.OutputFolder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;

/**
 * Rank 0's last act: the trained model beside the checkpoints, in the form Hugging Face tools load. Methods PEFT
 * knows (LoRA, adapters, prefix and prompt tuning) give {@code <output_dir>/adapter} ({@code adapter_config.json} +
 * {@code adapter_model.safetensors}, on top of {@code model_name_or_path}); methods that change the base weights
 * (full, freeze, BitFit) give a whole model folder {@code <output_dir>/model}. Written to a hidden folder first and
 * renamed into place, so a reader never sees half an export.
 */
final class FinalExport {
    static final String ADAPTER = "adapter";
    static final String MODEL = "model";

    private FinalExport() {
    }

    /** Whether a {@code method.finetuning_type} changes the base weights, so its export is a whole model folder. */
    static boolean wholeModel(String finetuningType) {
        return Set.of("full", "freeze", "bitfit").contains(finetuningType);
    }

    /** Writes the export and returns its fully qualified location ({@code file:/...}, {@code hdfs://...}). */
    static String write(PeftModel model, String finetuningType, ModelDirectory base, String baseLocation,
                        OutputFolder output) {
        boolean wholeModel = wholeModel(finetuningType);
        String name = wholeModel ? MODEL : ADAPTER;
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(output.resolve(name));
        org.apache.hadoop.fs.Path hidden = new org.apache.hadoop.fs.Path(output.resolve("." + name + "." + UUID.randomUUID()));
        Path scratch = null;
        FileSystem fs = null;
        try {
            scratch = Files.createTempDirectory("sparktune-export-");
            Path local = scratch.resolve(name);
            if (wholeModel) {
                ModelDirectory.write(local, base.configJson(), model.weights().asMap(), Long.MAX_VALUE, base.path());
            } else {
                PeftFormat.save(model, local, baseLocation);
            }
            fs = HadoopFiles.fileSystem(target, output.conf());     // raw on local disks: no .crc files
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), hidden);
            fs.delete(target, true);
            if (!fs.rename(hidden, target)) {
                throw new IOException("cannot rename " + hidden + " to " + target);
            }
            return fs.makeQualified(target).toString();
        } catch (IOException e) {
            deleteQuietly(fs, hidden);
            throw new UncheckedIOException("cannot export the trained model to " + target + ": " + e, e);
        } finally {
            LocalFolders.deleteQuietly(scratch);
        }
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
