package dev.sparktune.training;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.LoadedConfig;
import dev.sparktune.dist.Collective;
import dev.sparktune.dist.InProcessCollective;
import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.pack.TokenizeStage;
import dev.sparktune.train.InterleavedShards;
import dev.sparktune.train.LoadedCheckpoint;
import dev.sparktune.train.OutputFolder;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.TrainingCheckpoints;
import dev.sparktune.train.TrainingData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;

/** Test support: job configs, the in-process reference run, and reading a checkpoint's tensors back. */
final class TrainingRuns {
    private TrainingRuns() {
    }

    static LoadedConfig config(List<String> overrides) {
        return ConfigLoader.parse("", "test", overrides);
    }

    /**
     * The reference: the same job in this one process, its ranks as threads over the in-process collective, so the
     * only differences from the Spark run are the executors, the rendezvous and the TCP ring.
     */
    static void runInProcess(LoadedConfig config) throws Exception {
        int world = config.job().dist().worldSize();
        List<Collective> group = InProcessCollective.group(world);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        try {
            List<Future<?>> ranks = new ArrayList<>();
            for (Collective c : group) {
                ranks.add(threads.submit(() -> TrainingRank.run(config.job(), c, new Configuration(), StepListener.NONE,
                        Device.cpu())));
            }
            for (Future<?> rank : ranks) {
                rank.get();
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /**
     * Tokenized Parquet in {@code files} files of one row group each: ranks share out whole row groups, and a small
     * file holds only one (Parquet checks the row-group size every 100 rows). The tokenized folder it lies in (the
     * nearest one above {@code task=} folders and the held-out splits) is then marked committed, as prep leaves it.
     */
    static void writeTokenized(Path folder, List<TokenizedRow> rows, int files) {
        int per = (rows.size() + files - 1) / files;
        for (int f = 0; f < files; f++) {
            TokenizedParquet.write(new Configuration(), folder.resolve(String.format("part-%02d.parquet", f)).toString(),
                    rows.subList(f * per, Math.min(rows.size(), (f + 1) * per)), 1 << 20);
        }
        Path root = folder;
        while (root.getFileName().toString().startsWith(TokenizedParquet.TASK_FOLDER)
                || root.getFileName().toString().equals(TokenizeStage.VALIDATION_DIR)
                || root.getFileName().toString().equals(TokenizeStage.TEST_DIR)) {
            root = root.getParent();
        }
        commit(root);
    }

    /** Marks the tokenized folder {@code root} committed ({@link CommitMarker}), as the trainer requires. */
    static void commit(Path root) {
        try {
            org.apache.hadoop.fs.Path folder = new org.apache.hadoop.fs.Path(root.toUri());
            CommitMarker.write(folder.getFileSystem(new Configuration()), folder);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * One rank in this process with the whole global micro-batch ({@code world_size x per_device_train_batch_size}
     * rows), reading the rows the job's ranks read, interleaved in rank order ({@link InterleavedShards}): the
     * single-process run a data-parallel run must equal.
     */
    static void runOneRank(LoadedConfig config) {
        int world = config.job().dist().worldSize();
        int perRank = config.job().train().perDeviceTrainBatchSize();
        LoadedConfig one = ConfigLoader.parse(config.toYaml(), config.source(), List.of("dist.world_size=1",
                "train.per_device_train_batch_size=" + world * perRank));
        Configuration conf = new Configuration();
        TrainingInputs inputs = TrainingInputs.read(config.job(), conf, java.util.Map.of());
        TrainingRank.run(one.job(), inputs, InProcessCollective.group(1).get(0), conf, StepListener.NONE, Device.cpu(),
                Optional.empty(), null, task -> new InterleavedShards(TrainingData.open(conf, task.folder()),
                        config.job().train().seed(), world, perRank));
    }

    /** A copy of a BERT-family model folder with its dropout probabilities set to 0. */
    static Path withoutDropout(Path model, Path copy) throws IOException {
        Files.createDirectories(copy);
        try (Stream<Path> files = Files.list(model)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        Path config = copy.resolve("config.json");
        JsonObject json = JsonParser.parseString(Files.readString(config)).getAsJsonObject();
        json.addProperty("hidden_dropout_prob", 0.0);
        json.addProperty("attention_probs_dropout_prob", 0.0);
        Files.writeString(config, json.toString());
        return copy;
    }

    /** The trainable tensors of a checkpoint folder on any file system, as doubles by name. */
    static SortedMap<String, double[]> tensors(Configuration conf, String checkpoint) {
        SortedMap<String, double[]> out = new TreeMap<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            LoadedCheckpoint loaded = TrainingCheckpoints.load(conf, checkpoint, manager);
            loaded.model().forEach((name, t) -> out.put(name, t.toType(DataType.FLOAT64, false).toDoubleArray()));
        }
        return out;
    }

    static SortedMap<String, double[]> tensors(String checkpoint) {
        return tensors(new Configuration(), checkpoint);
    }

    static SortedMap<String, double[]> tensors(Path checkpoint) {
        return tensors(checkpoint.toUri().toString());
    }

    /** A local path as the location string checkpoints are reported by. */
    static String location(Path path) {
        return OutputFolder.local(path).location();
    }

    /** The tensor with the largest relative difference, and that difference: for the messages of failed checks. */
    static String worstTensor(Map<String, double[]> a, Map<String, double[]> b) {
        String worst = null;
        double largest = -1;
        for (String name : a.keySet()) {
            double d = maxRelativeDifference(Map.of(name, a.get(name)), Map.of(name, b.get(name)));
            if (d > largest) {
                largest = d;
                worst = name;
            }
        }
        return worst + " (" + largest + ")";
    }

    /** The largest, over tensors, of max |a - b| / max(max |b|, 1e-12). */
    static double maxRelativeDifference(Map<String, double[]> a, Map<String, double[]> b) {
        if (!a.keySet().equals(b.keySet())) {
            throw new AssertionError("different tensors: " + a.keySet() + " vs " + b.keySet());
        }
        double worst = 0;
        for (String name : a.keySet()) {
            double[] x = a.get(name);
            double[] y = b.get(name);
            double diff = 0;
            double scale = 1e-12;
            for (int i = 0; i < x.length; i++) {
                diff = Math.max(diff, Math.abs(x[i] - y[i]));
                scale = Math.max(scale, Math.abs(y[i]));
            }
            worst = Math.max(worst, diff / scale);
        }
        return worst;
    }
}
