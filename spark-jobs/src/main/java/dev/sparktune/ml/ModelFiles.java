package dev.sparktune.ml;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.HadoopConf;
import dev.sparktune.io.FolderListing;
import dev.sparktune.io.ModelFolderCache;
import dev.sparktune.peft.PeftFormat;
import java.io.Serializable;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * A model folder (and optionally a PEFT adapter folder) on any Hadoop file system, as listed on the driver: the only
 * thing about a model that travels to the executors. Executors take the files from {@link ModelFolderCache}; the
 * weights are never serialised.
 *
 * @param model   the Hugging Face model folder
 * @param adapter the adapter folder, or null
 * @param conf    the driver's Hadoop configuration (credentials, file system implementations), broadcast
 */
record ModelFiles(FolderListing model, FolderListing adapter, Broadcast<HadoopConf> conf) implements Serializable {

    /**
     * Lists both folders on the driver; the Hadoop configuration (about 150 KB serialised) is broadcast, so it
     * reaches each executor once, not with every task.
     */
    static ModelFiles resolve(String model, String adapter, SparkSession spark) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        return new ModelFiles(list(model, "modelPath", ModelDirectory.CONFIG_FILE, conf, null),
                adapter == null ? null : list(adapter, "adapterPath", PeftFormat.CONFIG_FILE, conf, null),
                JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(new HadoopConf(conf)));
    }

    /** What an executor's loaded models are keyed by: both folders' fingerprints. */
    String key() {
        return model.fingerprint() + "/" + (adapter == null ? "" : adapter.fingerprint());
    }

    String source() {
        return model.location() + (adapter == null ? "" : " + adapter " + adapter.location());
    }

    /**
     * The model folder's {@code config.json}, validated the way executors will load it (model_type supported),
     * read here on the driver so that a wrong folder fails before any task starts.
     */
    static ModelDirectory openConfig(String model, Configuration conf) {
        FolderListing config = list(model, "modelPath", ModelDirectory.CONFIG_FILE, conf,
                List.of(ModelDirectory.CONFIG_FILE));
        try (ModelFolderCache.Lease copy = ModelFolderCache.jvm().acquire(config, conf)) {
            return ModelDirectory.open(copy.folder());
        }
    }

    /** The folder's files ({@code names} only, when given), with {@code requiredFile} among them. */
    private static FolderListing list(String location, String param, String requiredFile, Configuration conf,
                                      List<String> names) {
        FolderListing listing;
        try {
            listing = names == null ? FolderListing.of(conf, location) : FolderListing.of(conf, location, names);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("FineTunedModel: " + param + " " + e.getMessage() + "; it should be a "
                    + expected(param), e);
        }
        if (!listing.has(requiredFile)) {
            throw new IllegalArgumentException("FineTunedModel: " + param + " " + listing.location() + " has no "
                    + requiredFile + "; it should be a " + expected(param));
        }
        return listing;
    }

    private static String expected(String param) {
        return param.equals("modelPath") ? "Hugging Face model folder (config.json, weights, tokenizer files)"
                : "PEFT adapter folder (adapter_config.json, adapter_model.safetensors)";
    }
}
