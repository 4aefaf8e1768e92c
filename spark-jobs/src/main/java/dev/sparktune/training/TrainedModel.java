package dev.sparktune.training;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.ml.FineTunedModel;
import dev.sparktune.peft.PeftFormat;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Where {@code sparktune train} left the model a task is evaluated with, in {@code train.output_dir}: the task's own
 * export of a multi-task run ({@code tasks/<task>/adapter} or {@code /model}, its head named {@code classifier}), else
 * the run's {@code adapter} on {@code model.model_name_or_path}, else the whole {@code model} of a full, freeze or
 * BitFit run.
 */
public final class TrainedModel {
    private static final String ADAPTER = FinalExport.ADAPTER;
    private static final String MODEL = FinalExport.MODEL;
    private static final String TASKS = FinalExport.TASKS;

    private TrainedModel() {
    }

    /** The model for {@code task}, as a FineTunedModel with only its locations set. */
    public static FineTunedModel forTask(String outputDir, String task, String baseModel, Configuration conf) {
        Path output = new Path(outputDir);
        Path own = new Path(new Path(output, TASKS), task);
        FineTunedModel model = find(own, baseModel, conf);
        if (model == null) {
            model = find(output, baseModel, conf);
        }
        if (model == null) {
            throw new IllegalArgumentException("no trained model in train.output_dir " + outputDir + ": neither "
                    + ADAPTER + "/ nor " + MODEL + "/ (nor " + TASKS + "/" + task + "/); run sparktune train first, or"
                    + " set train.output_dir to the run's folder");
        }
        return model;
    }

    private static FineTunedModel find(Path folder, String baseModel, Configuration conf) {
        try {
            FileSystem fs = folder.getFileSystem(conf);
            Path adapter = new Path(folder, ADAPTER);
            if (fs.exists(new Path(adapter, PeftFormat.CONFIG_FILE))) {
                if (baseModel == null) {
                    throw new IllegalArgumentException("model.model_name_or_path is not set; set it to the base model"
                            + " the adapter " + adapter + " was trained on");
                }
                return FineTunedModel.of(baseModel, adapter.toString());
            }
            Path whole = new Path(folder, MODEL);
            return fs.exists(new Path(whole, ModelDirectory.CONFIG_FILE)) ? FineTunedModel.of(whole.toString(), null) : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder + ": " + e, e);
        }
    }
}
