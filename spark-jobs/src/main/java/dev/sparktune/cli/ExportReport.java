package dev.sparktune.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.config.ExportConfig;
import dev.sparktune.config.JobConfig;
import dev.sparktune.quant.MagnitudePruning;
import dev.sparktune.train.Validation;
import dev.sparktune.training.ValidationSplit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;

/**
 * {@code export_report.json}: what an export is and what it cost, printed by {@code sparktune export} and written
 * into the export folder.
 * <pre>
 * {"export_dir": ..., "export_type": "merged",
 *  "size_bytes": every file of the folder (this report excepted),
 *  "float32_size_bytes": the same folder with every floating tensor in float32 and nothing quantised
 *                        (size_bytes - tensor bytes as written + tensor bytes in float32), "size_ratio": their ratio,
 *  "quantization": {"bits": 8, "modules": N, the linear layers and embedding tables stored as int8} or null,
 *  "pruning": {"pattern", "asked_sparsity", "measured_sparsity", "zeros", "elements", "matrices",
 *              "sparsity_after_int8"} or null,
 *  "eval": {"reference": what was compared, "tasks": {task: {metric: {"reference", "exported", "difference"}}}}
 *          or {"skipped": why}}
 * </pre>
 * Metrics are those training's validation computes ({@link Validation}): for a classification task accuracy and
 * macro-F1 (scikit-learn's {@code f1_score(average="macro", labels=range(num_classes))}), for a causal-LM task
 * perplexity; difference = exported - reference.
 */
final class ExportReport {
    static final String FILE = "export_report.json";

    private final JsonObject json = new JsonObject();

    ExportReport(String target, ExportConfig config, List<String> modules) {
        json.addProperty("export_dir", target);
        json.addProperty("export_type", config == null ? "adapter" : config.exportType());
        JsonObject quantization = null;
        if (config != null && config.exportQuantizationBit() != null) {
            quantization = new JsonObject();
            quantization.addProperty("bits", config.exportQuantizationBit());
            quantization.addProperty("modules", modules.size());
        }
        json.add("quantization", quantization);
        json.add("pruning", null);
    }

    static String toJson(JsonElement report) {
        return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(report);
    }

    /** Sizes of {@code folder} as written ({@code written}) and as the float32 tensors {@code original} would be. */
    void sizes(Path folder, Map<String, NDArray> written, Map<String, NDArray> original) {
        long onDisk = folderBytes(folder);
        long float32 = onDisk - tensorBytes(written, false) + tensorBytes(original, true);
        json.addProperty("size_bytes", onDisk);
        json.addProperty("float32_size_bytes", float32);
        json.addProperty("size_ratio", (double) onDisk / float32);
    }

    /**
     * What pruning left, counted over the pruned matrices; with {@code quantized} (the int8 tensors) also the share
     * of their int8 values that are 0, which rounding can make larger.
     */
    void pruning(MagnitudePruning.Result pruned, Map<String, NDArray> quantized, List<String> modules, ExportConfig config) {
        JsonObject p = new JsonObject();
        p.addProperty("pattern", config.prunePattern());
        p.addProperty("asked_sparsity", config.pruneSparsity());
        p.addProperty("measured_sparsity", pruned.sparsity());
        p.addProperty("zeros", pruned.zeros());
        p.addProperty("elements", pruned.elements());
        p.addProperty("matrices", modules.size());
        if (quantized != null) {
            long zeros = 0;
            for (String module : modules) {
                NDArray q = quantized.get(module + ".weight");
                zeros += q.eq(0).countNonzero().getLong();
            }
            p.addProperty("sparsity_after_int8", (double) zeros / pruned.elements());
        }
        json.add("pruning", p);
    }

    /**
     * Scores {@code reference} (the float model before pruning and quantisation) and the folder just written, loaded
     * as every command loads it, on the job's validation split; says so instead when it has no rows.
     */
    void evaluate(JobConfig job, Configuration conf, PretrainedModel reference, Path written, NDManager manager) {
        ValidationSplit split = ValidationSplit.of(job, conf);
        if (split.isEmpty()) {
            skipEvaluation(split.skipped());
            return;
        }
        SortedMap<String, Double> before = split.score(reference, job, written, manager);
        SortedMap<String, Double> after;
        try (NDManager scratch = manager.newSubManager()) {
            PretrainedModel exported = ModelDirectory.open(written).load(scratch, DataType.FLOAT32);
            after = split.score(exported, job, written, scratch);
        }
        JsonObject tasks = new JsonObject();
        List<String> metrics = split.classifies() ? List.of("accuracy", "f1") : List.of("perplexity");
        for (var task : split.tasks()) {
            JsonObject perTask = new JsonObject();
            for (String metric : metrics) {
                String key = Validation.LOSS + "/" + task.name() + "/" + metric;
                JsonObject m = new JsonObject();
                m.addProperty("reference", before.get(key));
                m.addProperty("exported", after.get(key));
                m.addProperty("difference", after.get(key) - before.get(key));
                perTask.add(metric.equals("f1") ? "macro_f1" : metric, m);
            }
            tasks.add(task.name(), perTask);
        }
        JsonObject eval = new JsonObject();
        eval.addProperty("reference", "the same model before pruning and int8, float32");
        eval.addProperty("split", job.data().tokenizedPath() + "/_validation");
        eval.add("tasks", tasks);
        json.add("eval", eval);
    }

    void skipEvaluation(String why) {
        JsonObject eval = new JsonObject();
        eval.addProperty("skipped", why);
        json.add("eval", eval);
    }

    /** Writes the report into {@code folder} and returns it. */
    JsonObject writeTo(Path folder) {
        try {
            Files.writeString(folder.resolve(FILE), toJson(json) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(folder.resolve(FILE) + ": cannot write", e);
        }
        return json;
    }

    /** Bytes of every file under {@code folder}. */
    static long folderBytes(Path folder) {
        try (Stream<Path> files = Files.walk(folder)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    throw new UncheckedIOException(f + ": cannot read its size", e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(folder + ": cannot list", e);
        }
    }

    /** Data bytes of {@code tensors}: as they are, or with every floating tensor counted as float32. */
    private static long tensorBytes(Map<String, NDArray> tensors, boolean asFloat32) {
        long bytes = 0;
        for (NDArray t : tensors.values()) {
            int element = asFloat32 && t.getDataType().isFloating() ? 4 : t.getDataType().getNumOfBytes();
            bytes += t.size() * element;
        }
        return bytes;
    }
}
