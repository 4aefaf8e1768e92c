package dev.sparktune.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * sparktune's int8 weight-only format: symmetric, one scale per output channel (LLM.int8's "vector-wise"
 * quantisation without its outlier split; compressed-tensors' {@code channel} strategy). A quantised linear layer's
 * {@code <module>.weight} [out, in] is stored as I8 {@code q} beside F32 {@code <module>.weight_scale} [out]:
 * <pre>
 *   scale[o] = max_i |w[o, i]| / 127        q[o, i] = clamp(round(w[o, i] / scale[o]), -127, 127)
 *   w'[o, i] = q[o, i] * scale[o]           |w - w'| <= scale[o] / 2 per element
 * </pre>
 * An embedding table {@code <module>.weight} [rows, dim] is stored the same way, one scale per row: per token (or
 * position), the row a lookup returns. Which modules an export quantises is {@code Int8Targets}' choice.
 * <p>
 * {@code round} is PyTorch's (half to even); an all-zero row has scale 0 and q 0. {@code config.json} says which
 * modules are quantised, under Hugging Face's {@code quantization_config} key:
 * {@code {"quant_method": "sparktune_int8", "bits": 8, "granularity": "per_channel", "symmetric": true,
 * "scale_suffix": "_scale", "modules": [...]}}. Hugging Face transformers does not know this method; sparktune
 * dequantises on load ({@link #dequantize}), so every command reads such a folder as a float model.
 */
public final class Int8Weights {
    public static final String CONFIG_KEY = "quantization_config";
    public static final String METHOD = "sparktune_int8";
    /** {@code <module>.weight} + this = the scale tensor's name. */
    public static final String SCALE_SUFFIX = "_scale";
    static final float LEVELS = 127f;

    private Int8Weights() {
    }

    /** The name of {@code weight}'s scale tensor, e.g. {@code ...q_proj.weight_scale}. */
    public static String scaleName(String weight) {
        return weight + SCALE_SUFFIX;
    }

    /**
     * {@code weights} with each module's {@code <module>.weight} (a linear layer's matrix or an embedding table)
     * replaced by its int8 values and per-row scales; every other tensor as it was. New arrays belong to
     * {@code manager}.
     */
    public static Map<String, NDArray> quantize(Map<String, NDArray> weights, List<String> modules, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>(weights);
        for (String module : modules) {
            String name = module + ".weight";
            NDArray w = weights.get(name);
            if (w == null || w.getShape().dimension() != 2 || !w.getDataType().isFloating()) {
                throw new IllegalArgumentException(name + ": int8 quantisation needs a 2-D float weight matrix or"
                        + " embedding table, got "
                        + (w == null ? "no such tensor" : w.getDataType() + " " + w.getShape()));
            }
            try (NDManager scratch = manager.newSubManager()) {
                // ops on a view owned by scratch leave their intermediates there (a result belongs to the
                // manager of its first operand); only q and the scales are moved out
                NDArray w32 = w.get(scratch, new NDIndex("...")).toType(DataType.FLOAT32, false);
                NDArray scale = w32.abs().max(new int[] {1}).div(LEVELS);
                NDArray divisor = scale.add(scale.eq(0).toType(DataType.FLOAT32, false)); // 1 where a row is all zero
                NDArray q = w32.div(divisor.expandDims(1)).round().clip(-LEVELS, LEVELS).toType(DataType.INT8, false);
                q.attach(manager);
                scale.attach(manager);
                out.put(name, q);
                out.put(scaleName(name), scale);
            }
        }
        return out;
    }

    /** {@code configJson} with a {@code quantization_config} that names {@code modules} (any earlier one replaced). */
    public static String withConfig(String configJson, List<String> modules) {
        JsonObject config = JsonParser.parseString(configJson).getAsJsonObject();
        JsonObject q = new JsonObject();
        q.addProperty("quant_method", METHOD);
        q.addProperty("bits", 8);
        q.addProperty("granularity", "per_channel");
        q.addProperty("symmetric", true);
        q.addProperty("scale_suffix", SCALE_SUFFIX);
        JsonArray names = new JsonArray();
        modules.forEach(names::add);
        q.add("modules", names);
        config.remove(CONFIG_KEY);
        config.add(CONFIG_KEY, q);
        return new GsonBuilder().setPrettyPrinting().create().toJson(config) + "\n";
    }

    /** {@code configJson} without a {@code quantization_config}: for a float model written from a quantised one. */
    public static String withoutConfig(String configJson) {
        JsonObject config = JsonParser.parseString(configJson).getAsJsonObject();
        if (!config.has(CONFIG_KEY)) {
            return configJson;
        }
        config.remove(CONFIG_KEY);
        return new GsonBuilder().setPrettyPrinting().create().toJson(config) + "\n";
    }

    /**
     * The quantised modules {@code configJson} lists; empty for a float model. Another {@code quant_method}
     * (bitsandbytes, GPTQ, AWQ) is refused: its tensors are not a float model's and sparktune cannot unpack them.
     */
    public static List<String> modules(String configJson, String source) {
        JsonElement parsed = JsonParser.parseString(configJson);
        if (!parsed.isJsonObject() || !parsed.getAsJsonObject().has(CONFIG_KEY)
                || parsed.getAsJsonObject().get(CONFIG_KEY).isJsonNull()) {
            return List.of();
        }
        JsonElement q = parsed.getAsJsonObject().get(CONFIG_KEY);
        String method = q.isJsonObject() && q.getAsJsonObject().has("quant_method")
                ? q.getAsJsonObject().get("quant_method").getAsString() : "(none)";
        if (!method.equals(METHOD) || !q.getAsJsonObject().has("modules")) {
            throw new CheckpointException(source, CONFIG_KEY + ".quant_method '" + method + "' is not supported;"
                    + " sparktune loads float checkpoints and its own '" + METHOD + "' exports; use a float checkpoint");
        }
        List<String> modules = new ArrayList<>();
        q.getAsJsonObject().getAsJsonArray("modules").forEach(m -> modules.add(m.getAsString()));
        return modules;
    }

    /**
     * {@code stored} with each quantised module's int8 weight and scale replaced by the float weight q * scale in
     * {@code dtype} (computed in float32, or float64 for a float64 model, then cast); the int8 and scale arrays are
     * closed. Other tensors are returned as they are.
     */
    public static Map<String, NDArray> dequantize(Map<String, NDArray> stored, List<String> modules, DataType dtype,
                                                  String source) {
        Map<String, NDArray> out = new LinkedHashMap<>(stored);
        DataType work = dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        for (String module : modules) {
            String name = module + ".weight";
            NDArray q = stored.get(name);
            NDArray scale = stored.get(scaleName(name));
            if (q == null || scale == null || q.getDataType() != DataType.INT8 || q.getShape().dimension() != 2
                    || scale.getShape().dimension() != 1 || scale.getShape().get(0) != q.getShape().get(0)) {
                throw new CheckpointException(source, name, CONFIG_KEY + " lists module " + module + ", but the"
                        + " checkpoint lacks its I8 [rows, cols] weight and F32 [rows] " + scaleName(name) + " (found "
                        + describe(q) + " and " + describe(scale) + ")", null);
            }
            NDManager manager = q.getManager();
            try (NDManager scratch = manager.newSubManager()) {
                NDArray w = q.get(scratch, new NDIndex("...")).toType(work, false);
                NDArray s = scale.get(scratch, new NDIndex("...")).toType(work, false);
                NDArray product = w.mul(s.expandDims(1));
                NDArray loaded = product.getDataType() == dtype ? product : product.toType(dtype, false);
                loaded.attach(manager);
                out.put(name, loaded);
            }
            out.remove(scaleName(name));
            q.close();
            scale.close();
        }
        return out;
    }

    private static String describe(NDArray array) {
        return array == null ? "nothing" : array.getDataType() + " " + array.getShape();
    }
}
