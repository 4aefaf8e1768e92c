package dev.sparktune.ml;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.MLWriter;

/**
 * Writes a {@link FineTunedModel} the way Spark ML saves its models: {@code metadata/} holds the JSON of class,
 * uid, Spark version and params ({@code DefaultParamsWriter}); beside it {@code model/} is a copy of the model
 * folder and {@code adapter/} of the adapter folder, if any, so the saved folder moves and loads on its own.
 */
final class FineTunedModelWriter extends MLWriter {
    static final String MODEL_DIR = "model";
    static final String ADAPTER_DIR = "adapter";

    private final FineTunedModel instance;

    FineTunedModelWriter(FineTunedModel instance) {
        this.instance = instance;
    }

    @Override
    public void saveImpl(String path) {
        if (instance.getModelPath() == null) {
            throw new IllegalArgumentException("FineTunedModel: modelPath is not set, so there is nothing to save");
        }
        DefaultParamsWriter.saveMetadata(instance, path, sparkSession());
        Configuration conf = sparkSession().sparkContext().hadoopConfiguration();
        copy(instance.getModelPath(), new Path(path, MODEL_DIR), conf);
        if (instance.getAdapterPath() != null) {
            copy(instance.getAdapterPath(), new Path(path, ADAPTER_DIR), conf);
        }
    }

    /** Copies a folder between any two Hadoop file systems. */
    private static void copy(String from, Path to, Configuration conf) {
        Path source = new Path(from);
        try {
            if (!FileUtil.copy(source.getFileSystem(conf), source, to.getFileSystem(conf), to, false, conf)) {
                throw new IOException("the copy reported failure");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("FineTunedModel: cannot copy " + from + " to " + to, e);
        }
    }
}
