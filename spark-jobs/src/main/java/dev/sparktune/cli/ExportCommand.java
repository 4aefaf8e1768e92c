package dev.sparktune.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ExportConfig;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.io.Int8Weights;
import dev.sparktune.io.LocalFolders;
import dev.sparktune.peft.LoraMerge;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.quant.Int8Targets;
import dev.sparktune.quant.LinearTargets;
import dev.sparktune.quant.MagnitudePruning;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sparktune export FILE}: the model {@code sparktune train} left in {@code train.output_dir} as a plain
 * Hugging Face folder in {@code export.export_dir}, weights sharded by {@code export.export_size} GB. A LoRA or DoRA
 * adapter ({@code <output_dir>/adapter}) is merged into {@code model.model_name_or_path}; a whole model
 * ({@code <output_dir>/model}, from full, freeze or BitFit runs) is copied and resharded. The recipe:
 * <ol>
 *   <li>the float weights: merged, or the whole model as stored;</li>
 *   <li>{@code export.prune_sparsity}: magnitude pruning of the linear layers' weight matrices ({@link LinearTargets},
 *       {@link MagnitudePruning});</li>
 *   <li>{@code export.export_quantization_bit: 8}: the same matrices and the embedding tables as int8 with a scale
 *       per row ({@link Int8Targets}, {@link Int8Weights}), after pruning;</li>
 *   <li>the folder written, then {@code export_report.json} ({@link ExportReport}): its size against the float32
 *       equivalent and, when it was pruned or quantised, the validation metrics of both models;</li>
 *   <li>the folder committed by a rename.</li>
 * </ol>
 * {@code export.export_type: adapter} copies the adapter folder alone instead. Local folders only; no Spark.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write the trained model to export.export_dir as a Hugging Face model folder.",
            "Merges the LoRA/DoRA adapter of train.output_dir into model.model_name_or_path and writes a",
            "plain Hugging Face folder to export.export_dir, sharded by export.export_size GB; optionally pruned",
            "(export.prune_sparsity) and int8 (export.export_quantization_bit: 8), with a report of its size and of",
            "its validation metrics against the float model (export_report.json, also printed). export_type: adapter",
            "copies the adapter alone. Exits with 2 when a key is missing or the trained method has no merge (prefix,",
            "prompt, bottleneck adapters)."})
final class ExportCommand implements Callable<Integer> {
    /** Hugging Face's "GB" in {@code max_shard_size="5GB"} is decimal. */
    static final long BYTES_PER_GB = 1_000_000_000L;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "the job YAML")
    Path file;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "override one key, e.g. --set export.export_dir=out/merged (repeatable)")
    List<String> overrides = new ArrayList<>();

    @Mixin
    PartitionOption partition = new PartitionOption();

    /** Tests only: a shard limit in bytes, since the smallest export_size (1 GB) never splits a tiny model. */
    @Option(names = "--max-shard-bytes", hidden = true)
    Long maxShardBytes;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        JobConfig job;
        try {
            job = partition.load(file, overrides).job();
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        } catch (IllegalArgumentException e) {
            err.println("export: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
        return export(job, maxShardBytes != null ? maxShardBytes : job.export().exportSize() * BYTES_PER_GB,
                spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /**
     * Writes the export, prints its report and returns the exit code: 0, or {@link ConfigProblems#INVALID} when a key
     * is missing or the trained model cannot be exported as asked. {@code sparktune run} calls it too.
     */
    static int export(JobConfig job, long shardBytes, PrintWriter out, PrintWriter err) {
        try {
            JsonObject report = export(job, shardBytes);
            out.println("Exported " + report.get("export_dir").getAsString());
            out.println(ExportReport.toJson(report));
            out.flush();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("export: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
    }

    /** Writes the export and returns its report. */
    private static JsonObject export(JobConfig job, long shardBytes) {
        if (job.export().exportDir() == null) {
            throw new IllegalArgumentException("export.export_dir is not set; set it to the folder the merged model"
                    + " goes to, e.g. --set export.export_dir=out/merged");
        }
        try (ExportFolders folders = new ExportFolders()) {
            JsonObject report = export(job, shardBytes, folders);
            folders.publish();
            return report;
        }
    }

    /** The export into {@code folders}' local view of the job's folders. */
    private static JsonObject export(JobConfig job, long shardBytes, ExportFolders folders) {
        Path target = folders.target(job.export().exportDir());
        String targetName = folders.name(target);
        Path output = folders.read(job.train().outputDir(), "model", "adapter");
        Path wholeModel = output.resolve("model");
        Path adapter = output.resolve("adapter");
        boolean hasAdapter = Files.isRegularFile(adapter.resolve(PeftFormat.CONFIG_FILE));
        if (job.export().exportType().equals("adapter")) {
            if (!hasAdapter) {
                throw new IllegalArgumentException("export.export_type is adapter, but train.output_dir "
                        + job.train().outputDir() + " holds no adapter/" + PeftFormat.CONFIG_FILE + " (a full, freeze"
                        + " or BitFit run leaves a whole model); use export.export_type: merged");
            }
            return commit(target, staging -> copyAdapter(adapter, staging, targetName));
        }
        if (Files.isRegularFile(wholeModel.resolve(ModelDirectory.CONFIG_FILE))) {
            return commit(target, staging -> reshard(job, ModelDirectory.open(wholeModel), staging, targetName,
                    shardBytes, folders.conf()));
        }
        if (!hasAdapter) {
            throw new IllegalArgumentException("no trained model in train.output_dir " + job.train().outputDir()
                    + ": neither adapter/" + PeftFormat.CONFIG_FILE + " nor model/" + ModelDirectory.CONFIG_FILE
                    + "; run sparktune train first, or set train.output_dir to the run's folder");
        }
        String type = peftType(adapter);
        if (!type.equals("LORA")) {
            throw new IllegalArgumentException(adapter + " is a " + type + " adapter, which has no merge into the"
                    + " base weights (only LoRA and DoRA merge); use the adapter as it is on top of"
                    + " model.model_name_or_path, or export it alone with export.export_type: adapter");
        }
        if (job.model().modelNameOrPath() == null) {
            throw new IllegalArgumentException("model.model_name_or_path is not set; set it to the base model folder"
                    + " the adapter was trained on");
        }
        Path basePath = folders.read(job.model().modelNameOrPath());
        if (!Files.isRegularFile(basePath.resolve(ModelDirectory.CONFIG_FILE))) {
            throw new IllegalArgumentException("model.model_name_or_path " + job.model().modelNameOrPath() + " is not"
                    + " a Hugging Face model folder (no " + ModelDirectory.CONFIG_FILE + ")");
        }
        ModelDirectory base = ModelDirectory.open(basePath);
        // a classifier's adapter carries config.json with id2label (FinalExport): its labels must survive the merge
        Path adapterConfig = adapter.resolve(ModelDirectory.CONFIG_FILE);
        String configJson = Files.isRegularFile(adapterConfig) ? read(adapterConfig) : base.configJson();
        return commit(target, staging -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                // the float base as its folder holds it, also after a run that trained on a packed copy
                // (model.quantization_bit, train.bf16): the adapter is merged into W, not into W's rounding
                PeftModel trained = PeftFormat.load(adapter, base.load(manager, DataType.FLOAT32), manager);
                LoraMerge.Merged merged = LoraMerge.merge(trained, manager);
                return write(job, base, configJson, merged.weights(), staging, targetName, shardBytes, manager,
                        folders.conf());
            }
        });
    }

    /**
     * The whole model of a full / freeze / BitFit run, resharded: its tensors as stored (no dtype change) unless the
     * export prunes or quantises them. An int8 model is written back as float unless int8 is asked again.
     */
    private static JsonObject reshard(JobConfig job, ModelDirectory model, Path staging, String target, long shardBytes,
                                      Configuration conf) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = Int8Weights.dequantize(Checkpoint.load(model.path(), manager),
                    Int8Weights.modules(model.configJson(), model.path().toString()), DataType.FLOAT32,
                    model.path().toString());
            return write(job, model, model.configJson(), weights, staging, target, shardBytes, manager, conf);
        }
    }

    /**
     * Steps 2 to 4 of the recipe: prune, quantise, write {@code staging}, report. {@code network} gives the
     * architecture of {@code weights}; {@code target} is where the folder will be once committed. A
     * {@code quantization_config} that {@code configJson} may carry from an int8 source is dropped by
     * {@link ModelDirectory#write} when the weights written are float.
     */
    private static JsonObject write(JobConfig job, ModelDirectory network, String configJson,
                                    Map<String, NDArray> weights, Path staging, String target, long shardBytes,
                                    NDManager manager, Configuration conf) {
        ExportConfig config = job.export();
        if (!config.compresses()) {
            ModelDirectory.write(staging, configJson, weights, shardBytes, network.path());
            ExportReport report = new ExportReport(target, config, List.of());
            report.sizes(staging, weights, weights);
            report.skipEvaluation("nothing to compare: neither export.prune_sparsity nor"
                    + " export.export_quantization_bit is set, so the export holds the float weights unchanged");
            return report.writeTo(staging);
        }
        Map<String, NDArray> float32 = new LinkedHashMap<>();
        weights.forEach((name, t) -> float32.put(name, t.getDataType().isFloating() ? t.toType(DataType.FLOAT32, false) : t));
        PretrainedModel reference = network.withWeights(float32, "the model before export");
        List<String> linear = LinearTargets.of(reference.layout());
        List<String> int8 = Int8Targets.of(reference.layout());
        Map<String, NDArray> written = weights;
        MagnitudePruning.Result pruned = null;
        if (config.pruneSparsity() > 0) {
            pruned = MagnitudePruning.prune(written, linear, config.pruneSparsity(),
                    MagnitudePruning.Pattern.of(config.prunePattern()), manager);
            written = pruned.weights();
        }
        String writtenConfig = configJson;
        if (config.exportQuantizationBit() != null) {
            written = Int8Weights.quantize(written, int8, manager);
            writtenConfig = Int8Weights.withConfig(configJson, int8);
        }
        ModelDirectory.write(staging, writtenConfig, written, shardBytes, network.path());
        ExportReport report = new ExportReport(target, config, int8);
        report.sizes(staging, written, weights);
        if (pruned != null) {
            report.pruning(pruned, config.exportQuantizationBit() != null ? written : null, linear, config);
        }
        report.evaluate(job, conf, reference, staging, manager);
        return report.writeTo(staging);
    }

    /** export_type adapter: the adapter folder as training left it (adapter_config.json, weights, config.json). */
    private static JsonObject copyAdapter(Path adapter, Path staging, String target) {
        try {
            Files.createDirectories(staging);
            try (Stream<Path> files = Files.list(adapter)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    Files.copy(f, staging.resolve(f.getFileName()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the adapter " + adapter + ": " + e, e);
        }
        ExportReport report = new ExportReport(target, null, List.of());
        report.sizes(staging, Map.of(), Map.of());
        report.skipEvaluation("export_type adapter: the adapter is copied as trained, nothing to compare");
        return report.writeTo(staging);
    }

    /** Writes into a hidden sibling of {@code target}, then replaces {@code target}: no reader sees half an export. */
    private static JsonObject commit(Path target, Function<Path, JsonObject> writer) {
        Path staging = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID());
        try {
            JsonObject report = writer.apply(staging);
            if (Files.exists(target)) {
                LocalFolders.deleteQuietly(target);
            }
            Files.move(staging, target);
            return report;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the export to " + target + ": " + e, e);
        } finally {
            LocalFolders.deleteQuietly(staging);
        }
    }

    private static String peftType(Path adapter) {
        JsonObject config = JsonParser.parseString(read(adapter.resolve(PeftFormat.CONFIG_FILE))).getAsJsonObject();
        return config.has("peft_type") ? config.get("peft_type").getAsString() : "(no peft_type)";
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
    }
}
