package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sparktune.io.Checkpoint;
import dev.sparktune.io.Int8Weights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;

/**
 * A model folder in Hugging Face layout, as downloaded from the Hub or ModelScope or written
 * by {@code save_pretrained}: {@code config.json}, {@code model.safetensors} or shards with
 * {@code model.safetensors.index.json}, and the tokenizer files. It loads without conversion.
 *
 * @param path       the folder
 * @param configJson the text of its config.json
 * @param modelType  config.json's {@code model_type}
 */
public record ModelDirectory(Path path, String configJson, String modelType) {

    public static final String CONFIG_FILE = "config.json";
    /** Files copied along when a model is written next to its source. */
    public static final List<String> TOKENIZER_FILES =
            List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json");

    public static ModelDirectory open(Path path) {
        if (!Files.isDirectory(path)) {
            throw new ModelFormatException(path + ": no such model folder");
        }
        Path file = path.resolve(CONFIG_FILE);
        ConfigJson config = ConfigJson.read(file);
        String type = config.requireString("model_type");
        if (!LlamaConfig.MODEL_TYPES.contains(type) && !type.equals("bert")) {
            TreeSet<String> supported = new TreeSet<>(LlamaConfig.MODEL_TYPES);
            supported.add("bert");
            throw new ModelFormatException(file + ": model_type '" + type + "' is not supported; supported: "
                    + String.join(", ", supported));
        }
        try {
            return new ModelDirectory(path, Files.readString(file, StandardCharsets.UTF_8), type);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
    }

    /**
     * The network with its weights in {@code dtype}, owned by {@code manager}. An int8 export
     * ({@code quantization_config} of {@link Int8Weights}) is dequantised here, q * scale, so every reader of a model
     * folder (training, generate, embed, the Spark ML classes) runs it as a float model.
     */
    public PretrainedModel load(NDManager manager, DataType dtype) {
        SortedMap<String, NDArray> raw = Checkpoint.load(path, manager);
        Map<String, NDArray> stored = Int8Weights.dequantize(raw, Int8Weights.modules(configJson, path.toString()),
                dtype, path.toString());
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        stored.forEach((name, t) -> tensors.put(name, t.getDataType().isFloating() ? t.toType(dtype, false) : t));
        return withWeights(tensors, path.toString());
    }

    /**
     * As {@link #load(NDManager, DataType)}, handing each tensor, in {@code dtype}, to {@code packer} as it is read:
     * where it returns a packed form, that is kept and the array closed at once, so the float weights are never all in
     * memory together. An int8 export is read whole first, then packed.
     *
     * @param packer a tensor's packed form, or null to keep it as an array
     */
    public PretrainedModel load(NDManager manager, DataType dtype, BiFunction<String, NDArray, PackedTensor> packer) {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        Map<String, PackedTensor> packed = new LinkedHashMap<>();
        BiConsumer<String, NDArray> keep = (name, t) -> {
            PackedTensor p = packer.apply(name, t);
            if (p == null) {
                tensors.put(name, t);
            } else {
                packed.put(name, p);
                t.close();
            }
        };
        if (!Int8Weights.modules(configJson, path.toString()).isEmpty()) {
            load(manager, dtype).weights().asMap().forEach(keep);
        } else {
            Checkpoint.forEach(path, manager, (name, raw) -> {
                NDArray t = raw.getDataType().isFloating() ? raw.toType(dtype, false) : raw;
                if (t != raw) {
                    raw.close();
                }
                keep.accept(name, t);
            });
        }
        return withWeights(new Weights(tensors, packed, path.toString()));
    }

    /** This folder's network over other tensors (e.g. a merged or pruned copy of its weights), used as they are. */
    public PretrainedModel withWeights(Map<String, NDArray> tensors, String source) {
        return withWeights(new Weights(tensors, source));
    }

    private PretrainedModel withWeights(Weights weights) {
        String config = path.resolve(CONFIG_FILE).toString();
        return modelType.equals("bert")
                ? new Bert(BertConfig.fromJson(configJson, config), weights)
                : new Llama(LlamaConfig.fromJson(configJson, config), weights);
    }

    /**
     * Writes a model folder: {@code config.json}, the weights (sharded above {@code maxShardBytes}),
     * and the tokenizer files found in {@code tokenizerSource} (may be null). A {@code config.json} taken from an
     * int8 export whose scales are not among {@code weights} (a float model trained or merged from one) is written
     * without its {@code quantization_config}, so the folder loads as the float model it is.
     */
    public static ModelDirectory write(Path path, String configJson, Map<String, NDArray> weights, long maxShardBytes,
                                       Path tokenizerSource) {
        List<String> int8 = Int8Weights.modules(configJson, path.resolve(CONFIG_FILE).toString());
        if (!int8.isEmpty() && !weights.containsKey(Int8Weights.scaleName(int8.get(0) + ".weight"))) {
            configJson = Int8Weights.withoutConfig(configJson);
        }
        try {
            Files.createDirectories(path);
            Checkpoint.save(path, weights, maxShardBytes);
            Files.writeString(path.resolve(CONFIG_FILE), configJson, StandardCharsets.UTF_8);
            if (tokenizerSource != null) {
                for (String name : TOKENIZER_FILES) {
                    Path from = tokenizerSource.resolve(name);
                    if (Files.isRegularFile(from) && !from.equals(path.resolve(name))) {
                        Files.copy(from, path.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot write the model folder", e);
        }
        return open(path);
    }
}
