package dev.sparktune.ml;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.MLReader;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Reads what {@link FineTunedModelWriter} wrote: the params from {@code metadata/}, and the model and adapter
 * from the copies under the saved path (never the locations the model was first built from).
 */
final class FineTunedModelReader extends MLReader<FineTunedModel> {

    @Override
    public FineTunedModel load(String path) {
        DefaultParamsReader.Metadata metadata =
                DefaultParamsReader.loadMetadata(path, sparkSession(), FineTunedModel.class.getName());
        FineTunedModel model = new FineTunedModel(metadata.uid());
        // the saved locations are where the files were copied from; the copies are what this folder holds
        metadata.getAndSetParams(model, Option.apply(CollectionConverters.asScala(List.of("modelPath", "adapterPath")).toList()));
        Path root = new Path(path);
        Path adapter = new Path(root, FineTunedModelWriter.ADAPTER_DIR);
        try {
            FileSystem fs = root.getFileSystem(sparkSession().sparkContext().hadoopConfiguration());
            model.setModelPath(fs.makeQualified(new Path(root, FineTunedModelWriter.MODEL_DIR)).toString());
            if (fs.exists(adapter)) {
                model.setAdapterPath(fs.makeQualified(adapter).toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("FineTunedModel: cannot read " + path, e);
        }
        return model;
    }
}
