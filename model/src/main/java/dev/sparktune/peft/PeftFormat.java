package dev.sparktune.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelLayout;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.io.SafetensorsFile;
import dev.sparktune.io.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Adapters on disk as Hugging Face PEFT writes them: {@code adapter_config.json} and
 * {@code adapter_model.safetensors} (metadata {@code {"format": "pt"}}), keys
 * {@code base_model.model.<module path>.lora_A.weight} and so on, prompt learning as
 * {@code prompt_embeddings}. What {@code PeftModel.from_pretrained} loads, and what it writes
 * loads here. Bottleneck adapters have no PEFT type; they use the same layout under the type
 * {@code SPARKTUNE_BOTTLENECK_ADAPTER}, which only sparktune reads.
 */
public final class PeftFormat {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final String MODEL_PREFIX = "base_model.model.";
    private static final String PROMPT_KEY = "prompt_embeddings";
    private static final String BOTTLENECK_TYPE = "SPARKTUNE_BOTTLENECK_ADAPTER";

    private PeftFormat() {
    }

    public static void save(PeftModel model, Path dir, String baseModelNameOrPath) {
        ModelLayout layout = model.base().layout();
        Map<String, NDArray> tensors = new TreeMap<>();
        JsonObject config = new JsonObject();
        config.addProperty("base_model_name_or_path", baseModelNameOrPath);
        config.addProperty("task_type", taskType(layout));
        config.addProperty("inference_mode", true);
        Method method = model.method();
        try (NDManager scratch = NDManager.newBaseManager()) {
            if (method instanceof Lora lora) {
                config.addProperty("peft_type", "LORA");
                config.addProperty("r", lora.rank());
                config.addProperty("lora_alpha", lora.alpha());
                config.addProperty("lora_dropout", lora.dropout());
                // full module paths: PEFT matches them exactly, and a selection of layers survives the round trip
                config.add("target_modules", strings(lora.targetModules(layout).stream()
                        .map(m -> hfName(m, model.base())).toList()));
                config.addProperty("use_rslora", lora.useRslora());
                config.addProperty("use_dora", lora.useDora());
                config.add("modules_to_save", modulesToSave(lora.modulesToSave(), layout));
                config.addProperty("bias", "none");
                config.addProperty("fan_in_fan_out", false);
                config.addProperty("init_lora_weights", true);
                model.trainable().forEach(n -> tensors.put(MODEL_PREFIX + hfName(n, model.base()), model.weights().get(n)));
            } else if (method instanceof PrefixTuning prefix) {
                config.addProperty("peft_type", "PREFIX_TUNING");
                promptLearning(config, layout, prefix.numVirtualTokens());
                config.addProperty("num_attention_heads", layout.numKeyValueHeads());
                config.addProperty("token_dim", layout.numKeyValueHeads() * layout.headDim());
                config.addProperty("encoder_hidden_size", prefix.encoderHiddenSize());
                config.addProperty("prefix_projection", prefix.projection());
                tensors.put(PROMPT_KEY, prefix.table(model.weights(), scratch));
                taskHeads(model, layout, tensors);
            } else if (method instanceof PromptTuning prompt) {
                config.addProperty("peft_type", "PROMPT_TUNING");
                promptLearning(config, layout, prompt.numVirtualTokens());
                config.addProperty("token_dim", layout.hiddenSize());
                config.addProperty("prompt_tuning_init", prompt.initText() == null ? "RANDOM" : "TEXT");
                config.addProperty("prompt_tuning_init_text", prompt.initText());
                tensors.put(PROMPT_KEY, model.weights().get(PromptTuning.EMBEDDING));
                taskHeads(model, layout, tensors);
            } else if (method instanceof BottleneckAdapter adapter) {
                config.addProperty("peft_type", BOTTLENECK_TYPE);
                config.addProperty("adapter_size", adapter.size());
                model.trainable().forEach(n -> tensors.put(MODEL_PREFIX + hfName(n, model.base()), model.weights().get(n)));
            } else {
                throw new IllegalArgumentException(method.getClass().getSimpleName()
                    + " trains base weights in place: save the whole model as a Hugging Face folder instead");
            }
            if (tensors.isEmpty()) {
                throw new IllegalStateException("refusing to write an empty adapter");
            }
            Files.createDirectories(dir);
            SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
            Files.writeString(dir.resolve(CONFIG_FILE), new GsonBuilder().setPrettyPrinting().serializeNulls().create()
                    .toJson(config) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the adapter to " + dir, e);
        }
    }

    /** Loads an adapter written here or by PEFT onto {@code base}; its tensors are owned by {@code manager}. */
    public static PeftModel load(Path dir, PretrainedModel base, NDManager manager) {
        JsonObject config = readConfig(dir.resolve(CONFIG_FILE));
        String type = config.has("peft_type") ? config.get("peft_type").getAsString() : "(missing)";
        // an adapter trained in another precision (a float64 test run, a float16 one) applies to this base in its dtype
        DataType dtype = base.weights().get(base.layout().embeddings() + ".weight").getDataType();
        SortedMap<String, NDArray> raw = new TreeMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(dir.resolve(WEIGHTS_FILE))) {
            file.loadAll(manager).forEach((name, tensor) -> raw.put(name, tensor.getDataType() == dtype
                    || !tensor.getDataType().isFloating() ? tensor : tensor.toType(dtype, false)));
        }
        ModelLayout layout = base.layout();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        Method method;
        switch (type) {
            case "LORA" -> {
                method = new Lora(config.get("r").getAsInt(), config.get("lora_alpha").getAsDouble(),
                        number(config, "lora_dropout", 0.0), targets(config.get("target_modules"), base),
                        flag(config, "use_rslora"), flag(config, "use_dora"), stringList(config.get("modules_to_save")));
                raw.forEach((k, v) -> tensors.put(ourName(k, base), v));
            }
            case "PREFIX_TUNING" -> {
                NDArray table = require(raw, PROMPT_KEY, dir);
                method = new PrefixTuning(config.get("num_virtual_tokens").getAsInt(), false, PrefixTuning.DEFAULT_ENCODER_HIDDEN);
                tensors.put(PrefixTuning.EMBEDDING, table);
                raw.forEach((k, v) -> {
                    if (!k.equals(PROMPT_KEY)) {
                        tensors.put(ourName(k, base), v);
                    }
                });
            }
            case "PROMPT_TUNING" -> {
                method = new PromptTuning(config.get("num_virtual_tokens").getAsInt(), null, null);
                tensors.put(PromptTuning.EMBEDDING, require(raw, PROMPT_KEY, dir));
                raw.forEach((k, v) -> {
                    if (!k.equals(PROMPT_KEY)) {
                        tensors.put(ourName(k, base), v);
                    }
                });
            }
            case BOTTLENECK_TYPE -> {
                method = new BottleneckAdapter(config.get("adapter_size").getAsInt());
                raw.forEach((k, v) -> tensors.put(ourName(k, base), v));
            }
            default -> throw new IllegalArgumentException(dir.resolve(CONFIG_FILE) + ": peft_type '" + type
                    + "' is not supported; supported: LORA, PREFIX_TUNING, PROMPT_TUNING, " + BOTTLENECK_TYPE);
        }
        PeftModel model = PeftModel.withTensors(base, method, tensors);
        Set<String> missing = new LinkedHashSet<>(model.trainable());
        missing.removeAll(tensors.keySet());
        missing.removeIf(n -> base.weights().has(n));
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(dir.resolve(WEIGHTS_FILE) + ": the adapter lacks " + missing);
        }
        return model;
    }

    /** PEFT's task types: what head the base model has. */
    static String taskType(ModelLayout layout) {
        if (!layout.encoder()) {
            return "CAUSAL_LM";
        }
        return layout.taskHeads().isEmpty() ? "FEATURE_EXTRACTION" : "SEQ_CLS";
    }

    /**
     * The module path Hugging Face uses. A classification model built on a bare encoder
     * checkpoint is, in transformers, BertForSequenceClassification, whose encoder sits under {@code bert.}.
     */
    static String hfName(String ours, PretrainedModel base) {
        ModelLayout layout = base.layout();
        boolean needsPrefix = layout.encoder() && !layout.taskHeads().isEmpty() && !layout.embeddings().startsWith("bert.");
        boolean isHead = layout.taskHeads().stream().anyMatch(h -> ours.startsWith(h + "."));
        return needsPrefix && !isHead ? "bert." + ours : ours;
    }

    static String ourName(String key, PretrainedModel base) {
        String name = key.startsWith(MODEL_PREFIX) ? key.substring(MODEL_PREFIX.length())
                : key.startsWith("base_model.") ? key.substring("base_model.".length()) : key;
        ModelLayout layout = base.layout();
        boolean stripPrefix = layout.encoder() && !layout.embeddings().startsWith("bert.") && name.startsWith("bert.");
        return stripPrefix ? name.substring("bert.".length()) : name;
    }

    private static void promptLearning(JsonObject config, ModelLayout layout, int virtualTokens) {
        config.addProperty("num_virtual_tokens", virtualTokens);
        config.addProperty("num_transformer_submodules", 1);
        config.addProperty("num_layers", layout.numLayers());
    }

    private static void taskHeads(PeftModel model, ModelLayout layout, Map<String, NDArray> tensors) {
        for (String name : model.trainable()) {
            if (layout.taskHeads().stream().anyMatch(h -> name.startsWith(h + "."))) {
                tensors.put(MODEL_PREFIX + hfName(name, model.base()), model.weights().get(name));
            }
        }
    }

    private static JsonElement modulesToSave(List<String> modules, ModelLayout layout) {
        Set<String> all = new LinkedHashSet<>(modules);
        all.addAll(layout.taskHeads());
        return all.isEmpty() ? JsonNull.INSTANCE : strings(new ArrayList<>(all));
    }

    private static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }

    /** PEFT's target_modules: one regular expression, or module names (ours may lack BertForSequenceClassification's {@code bert.}). */
    private static List<String> targets(JsonElement e, PretrainedModel base) {
        return e.isJsonPrimitive() ? List.of(e.getAsString())
                : stringList(e).stream().map(name -> ourName(name, base)).toList();
    }

    private static List<String> stringList(JsonElement e) {
        List<String> out = new ArrayList<>();
        if (e != null && e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> out.add(x.getAsString()));
        }
        return out;
    }

    private static boolean flag(JsonObject c, String key) {
        return c.has(key) && !c.get(key).isJsonNull() && c.get(key).getAsBoolean();
    }

    private static double number(JsonObject c, String key, double dflt) {
        return c.has(key) && !c.get(key).isJsonNull() ? c.get(key).getAsDouble() : dflt;
    }

    private static NDArray require(Map<String, NDArray> raw, String key, Path dir) {
        NDArray t = raw.get(key);
        if (t == null) {
            throw new IllegalArgumentException(dir.resolve(WEIGHTS_FILE) + ": no tensor '" + key + "'");
        }
        return t;
    }

    private static JsonObject readConfig(Path file) {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": missing; an adapter folder needs " + CONFIG_FILE);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a JSON object: " + e.getMessage());
        }
    }
}
