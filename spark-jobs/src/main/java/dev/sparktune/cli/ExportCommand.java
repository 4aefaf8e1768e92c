package dev.sparktune.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.config.ConfigException;
import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.JobConfig;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.io.LocalFolders;
import dev.sparktune.peft.LoraMerge;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code sparktune export FILE}: the model {@code sparktune train} left in {@code train.output_dir} as a plain
 * Hugging Face folder in {@code export.export_dir}, weights sharded by {@code export.export_size} GB. A LoRA or DoRA
 * adapter ({@code <output_dir>/adapter}) is merged into {@code model.model_name_or_path}; a whole model
 * ({@code <output_dir>/model}, from full, freeze or BitFit runs) is copied and resharded. Local folders only; no
 * Spark.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Merge the LoRA/DoRA adapter of train.output_dir into model.model_name_or_path and write a",
            "plain Hugging Face folder to export.export_dir, sharded by export.export_size GB. Exits with 2 when a key",
            "is missing or the trained method has no merge (prefix, prompt, bottleneck adapters)."})
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

    /** Tests only: a shard limit in bytes, since the smallest export_size (1 GB) never splits a tiny model. */
    @Option(names = "--max-shard-bytes", hidden = true)
    Long maxShardBytes;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        JobConfig job;
        try {
            job = ConfigLoader.load(file, overrides).job();
        } catch (ConfigException e) {
            return ConfigProblems.report(err, e, file);
        }
        try {
            Path written = export(job, maxShardBytes != null ? maxShardBytes : job.export().exportSize() * BYTES_PER_GB);
            spec.commandLine().getOut().println("Exported " + written);
            spec.commandLine().getOut().flush();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("export: " + e.getMessage());
            err.flush();
            return ConfigProblems.INVALID;
        }
    }

    private static Path export(JobConfig job, long shardBytes) {
        if (job.export().exportDir() == null) {
            throw new IllegalArgumentException("export.export_dir is not set; set it to the folder the merged model"
                    + " goes to, e.g. --set export.export_dir=out/merged");
        }
        Path target = localPath(job.export().exportDir(), "export.export_dir").toAbsolutePath();
        Path output = localPath(job.train().outputDir(), "train.output_dir");
        Path wholeModel = output.resolve("model");
        Path adapter = output.resolve("adapter");
        if (Files.isRegularFile(wholeModel.resolve(ModelDirectory.CONFIG_FILE))) {
            return commit(target, staging -> reshard(ModelDirectory.open(wholeModel), staging, shardBytes));
        }
        if (!Files.isRegularFile(adapter.resolve(PeftFormat.CONFIG_FILE))) {
            throw new IllegalArgumentException("no trained model in train.output_dir " + output + ": neither "
                    + adapter.resolve(PeftFormat.CONFIG_FILE) + " nor " + wholeModel.resolve(ModelDirectory.CONFIG_FILE)
                    + "; run sparktune train first, or set train.output_dir to the run's folder");
        }
        String type = peftType(adapter);
        if (!type.equals("LORA")) {
            throw new IllegalArgumentException(adapter + " is a " + type + " adapter, which has no merge into the"
                    + " base weights (only LoRA and DoRA merge); use the adapter as it is on top of"
                    + " model.model_name_or_path");
        }
        if (job.model().modelNameOrPath() == null) {
            throw new IllegalArgumentException("model.model_name_or_path is not set; set it to the base model folder"
                    + " the adapter was trained on");
        }
        Path basePath = localPath(job.model().modelNameOrPath(), "model.model_name_or_path");
        if (!Files.isRegularFile(basePath.resolve(ModelDirectory.CONFIG_FILE))) {
            throw new IllegalArgumentException("model.model_name_or_path " + basePath + " is not a local Hugging Face"
                    + " model folder (no " + ModelDirectory.CONFIG_FILE + "); export merges into a local copy");
        }
        ModelDirectory base = ModelDirectory.open(basePath);
        // a classifier's adapter carries config.json with id2label (FinalExport): its labels must survive the merge
        Path adapterConfig = adapter.resolve(ModelDirectory.CONFIG_FILE);
        String configJson = Files.isRegularFile(adapterConfig) ? read(adapterConfig) : base.configJson();
        return commit(target, staging -> {
            try (NDManager manager = NDManager.newBaseManager()) {
                PeftModel trained = PeftFormat.load(adapter, base.load(manager, DataType.FLOAT32), manager);
                LoraMerge.Merged merged = LoraMerge.merge(trained, manager);
                ModelDirectory.write(staging, configJson, merged.weights(), shardBytes, base.path());
            }
        });
    }

    /** The whole model of a full / freeze / BitFit run, its tensors as stored (no dtype change), resharded. */
    private static void reshard(ModelDirectory model, Path staging, long shardBytes) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = Checkpoint.load(model.path(), manager);
            ModelDirectory.write(staging, model.configJson(), weights, shardBytes, model.path());
        }
    }

    /** Writes into a hidden sibling of {@code target}, then replaces {@code target}: no reader sees half an export. */
    private static Path commit(Path target, Consumer<Path> writer) {
        Path staging = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID());
        try {
            writer.accept(staging);
            if (Files.exists(target)) {
                LocalFolders.deleteQuietly(target);
            }
            Files.move(staging, target);
            return target;
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

    /** A path on this machine: a plain path or a {@code file:} URI; other file systems are refused naming the key. */
    private static Path localPath(String location, String key) {
        if (location.startsWith("file:")) {
            return Path.of(URI.create(location));
        }
        if (location.matches("^[a-zA-Z][a-zA-Z0-9+.-]+://.*")) {
            throw new IllegalArgumentException(key + " " + location + ": export reads and writes local folders only;"
                    + " copy the folder to this machine and point " + key + " at it");
        }
        return Path.of(location);
    }
}
