package dev.sparktune.ml;

import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.augment.HadoopConf;
import dev.sparktune.io.LocalFolders;
import dev.sparktune.peft.PeftFormat;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * Where a model folder (and optionally a PEFT adapter folder) lives, on any Hadoop file system, as
 * fully qualified URIs: the only thing about a model that travels to the executors. Executors read the
 * files themselves ({@link #localCopy}); the weights are never serialised.
 *
 * @param model       the Hugging Face model folder
 * @param adapter     the adapter folder, or null
 * @param fingerprint the files' names, sizes and modification times, so that files rewritten in place
 *                    are not served from an executor's cache
 * @param conf        the driver's Hadoop configuration (credentials, file system implementations), broadcast
 */
record ModelFiles(String model, String adapter, String fingerprint, Broadcast<HadoopConf> conf) implements Serializable {

    /**
     * Qualifies the locations against the driver's file systems and fingerprints their files; the Hadoop
     * configuration (about 150 KB serialised) is broadcast, so it reaches each executor once, not with every task.
     */
    static ModelFiles resolve(String model, String adapter, SparkSession spark) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Path modelPath = qualify(model, "modelPath", ModelDirectory.CONFIG_FILE, conf);
        Path adapterPath = adapter == null ? null : qualify(adapter, "adapterPath", PeftFormat.CONFIG_FILE, conf);
        String fingerprint = listing(modelPath, conf) + (adapterPath == null ? "" : "\n--\n" + listing(adapterPath, conf));
        return new ModelFiles(modelPath.toString(), adapterPath == null ? null : adapterPath.toString(), fingerprint,
                JavaSparkContext.fromSparkContext(spark.sparkContext()).broadcast(new HadoopConf(conf)));
    }

    /** What the executor cache keys on. */
    String key() {
        return model + "\n" + adapter + "\n" + fingerprint;
    }

    /**
     * The model folder's {@code config.json}, validated the way executors will load it (model_type supported),
     * read here on the driver so that a wrong folder fails before any task starts.
     */
    static ModelDirectory openConfig(String model, Configuration conf) {
        Path folder = qualify(model, "modelPath", ModelDirectory.CONFIG_FILE, conf);
        java.nio.file.Path scratch = null;
        try {
            FileSystem fs = folder.getFileSystem(conf);
            if (isLocal(fs)) {
                return ModelDirectory.open(java.nio.file.Path.of(folder.toUri()));
            }
            scratch = Files.createTempDirectory("sparktune-config-");
            fs.copyToLocalFile(false, new Path(folder, ModelDirectory.CONFIG_FILE),
                    new Path(scratch.resolve(ModelDirectory.CONFIG_FILE).toUri()), true);
            return ModelDirectory.open(scratch);
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot read " + ModelDirectory.CONFIG_FILE, e);
        } finally {
            LocalFolders.deleteQuietly(scratch);
        }
    }

    /**
     * The model (index 0) and adapter (index 1, or null) as local folders: used in place on a local file
     * system, otherwise copied under {@code scratch}.
     */
    List<java.nio.file.Path> localCopy(java.nio.file.Path scratch) {
        List<java.nio.file.Path> out = new ArrayList<>();
        out.add(local(model, scratch.resolve("model")));
        out.add(adapter == null ? null : local(adapter, scratch.resolve("adapter")));
        return out;
    }

    private java.nio.file.Path local(String location, java.nio.file.Path target) {
        Path path = new Path(location);
        try {
            FileSystem fs = path.getFileSystem(conf.value().get());
            if (isLocal(fs)) {
                return java.nio.file.Path.of(path.toUri());
            }
            // raw local destination: no .crc files beside the copies
            fs.copyToLocalFile(false, path, new Path(target.toUri()), true);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + location + " to " + target, e);
        }
    }

    private static boolean isLocal(FileSystem fs) {
        return "file".equals(fs.getUri().getScheme());
    }

    private static Path qualify(String location, String param, String requiredFile, Configuration conf) {
        Path path = new Path(location);
        try {
            FileSystem fs = path.getFileSystem(conf);
            Path qualified = fs.makeQualified(path);
            if (!fs.exists(new Path(qualified, requiredFile))) {
                throw new IllegalArgumentException("FineTunedModel: " + param + " " + qualified + " has no "
                        + requiredFile + "; it should be a " + (param.equals("modelPath")
                        ? "Hugging Face model folder (config.json, weights, tokenizer files)"
                        : "PEFT adapter folder (adapter_config.json, adapter_model.safetensors)"));
            }
            return qualified;
        } catch (IOException e) {
            throw new UncheckedIOException("FineTunedModel: cannot read " + param + " " + location, e);
        }
    }

    private static String listing(Path folder, Configuration conf) {
        try {
            FileSystem fs = folder.getFileSystem(conf);
            List<String> lines = new ArrayList<>();
            RemoteIterator<LocatedFileStatus> files = fs.listFiles(folder, true);
            while (files.hasNext()) {
                FileStatus f = files.next();
                lines.add(f.getPath() + " " + f.getLen() + " " + f.getModificationTime());
            }
            lines.sort(null);
            return String.join("\n", lines);
        } catch (FileNotFoundException e) {
            throw new IllegalArgumentException("FineTunedModel: " + folder + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("FineTunedModel: cannot list " + folder, e);
        }
    }
}
