package dev.sparktune.io.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.ModelDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a BERT-family encoder exported to ONNX by {@code torch.onnx} (such as all-MiniLM-L6-v2)
 * back into Hugging Face {@code BertModel} tensors and {@code config.json}.
 *
 * <p>The exporter keeps biases and norms under their Hugging Face names but stores each linear
 * weight transposed, [in, out], under an anonymous name ({@code onnx::MatMul_787}) that only the
 * MatMul node consuming it identifies ({@code /encoder/layer.0/attention/self/query/MatMul}).
 * Hyper-parameters that weights do not reveal are read from the graph's constants: the head
 * count from the attention reshape, the LayerNorm epsilon from the normalisation's Add.
 */
public final class BertOnnxImport {
    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");
    private static final Pattern MATMUL = Pattern.compile("^/(.+)/MatMul$");

    private BertOnnxImport() {
    }

    /** The converted model: {@code config.json} text and tensors by Hugging Face name. */
    public record Result(String configJson, Map<String, NDArray> tensors) {
    }

    /**
     * Writes a Hugging Face model folder converted from {@code onnxFile}: {@code config.json},
     * {@code model.safetensors}, the given {@code tokenizer.json} and a {@code tokenizer_config.json}
     * naming BERT's special tokens.
     */
    public static ModelDirectory importTo(Path onnxFile, Path tokenizerJson, Path out) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Result result = convert(OnnxModel.read(onnxFile), manager);
            ModelDirectory written = ModelDirectory.write(out, result.configJson(), result.tensors(), Long.MAX_VALUE, null);
            Files.copy(tokenizerJson, out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
            long maxPositions = result.tensors().get("embeddings.position_embeddings.weight").getShape().get(0);
            Files.writeString(out.resolve("tokenizer_config.json"), tokenizerConfig(tokenizerJson, maxPositions));
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out, e);
        }
    }

    /** BERT's special tokens, as far as tokenizer.json declares them, and its lower-casing. */
    private static String tokenizerConfig(Path tokenizerJson, long maxPositions) throws IOException {
        JsonObject tokenizer = JsonParser.parseString(Files.readString(tokenizerJson)).getAsJsonObject();
        Map<String, String> roles = Map.of("[CLS]", "cls_token", "[SEP]", "sep_token", "[PAD]", "pad_token",
                "[UNK]", "unk_token", "[MASK]", "mask_token");
        JsonObject c = new JsonObject();
        for (var added : tokenizer.getAsJsonArray("added_tokens")) {
            String content = added.getAsJsonObject().get("content").getAsString();
            if (roles.containsKey(content)) {
                c.addProperty(roles.get(content), content);
            }
        }
        JsonObject normalizer = tokenizer.getAsJsonObject("normalizer");
        boolean lowercase = normalizer != null && normalizer.has("lowercase") && normalizer.get("lowercase").getAsBoolean();
        c.addProperty("do_lower_case", lowercase);
        c.addProperty("model_max_length", maxPositions);
        c.addProperty("padding_side", "right");
        c.addProperty("tokenizer_class", "BertTokenizer");
        return new GsonBuilder().setPrettyPrinting().create().toJson(c) + "\n";
    }

    public static Result convert(OnnxModel onnx, NDManager manager) {
        Map<String, NDArray> tensors = new TreeMap<>();
        List<String> unmapped = new ArrayList<>();
        for (OnnxModel.Tensor t : onnx.initializers().values()) {
            if (t.name().equals("embeddings.position_ids")) {
                continue; // a buffer (0..511), not a parameter; Hugging Face no longer saves it
            }
            if (t.name().startsWith("onnx::")) {
                unmapped.add(t.name());
                continue;
            }
            tensors.put(t.name(), floats(manager, t, t.dims()));
        }
        for (OnnxModel.Node node : onnx.nodes()) {
            Matcher m = MATMUL.matcher(node.name());
            if (!node.opType().equals("MatMul") || !m.matches() || node.inputs().size() != 2) {
                continue;
            }
            OnnxModel.Tensor weight = onnx.initializers().get(node.inputs().get(1));
            if (weight == null || !weight.name().startsWith("onnx::")) {
                continue;
            }
            String module = m.group(1).replace('/', '.');
            tensors.put(module + ".weight", transposed(manager, weight));
            unmapped.remove(weight.name());
        }
        if (!unmapped.isEmpty()) {
            throw new IllegalArgumentException("ONNX initializers with no Hugging Face name: " + unmapped
                    + "; this importer understands BERT encoders exported by torch.onnx");
        }
        return new Result(config(onnx, tensors), tensors);
    }

    private static String config(OnnxModel onnx, Map<String, NDArray> tensors) {
        Shape words = require(tensors, "embeddings.word_embeddings.weight").getShape();
        long hidden = words.get(1);
        int layers = 0;
        for (String name : tensors.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        long heads = constantInput(onnx, "/encoder/layer.0/attention/self/Reshape", 1, 2, "num_attention_heads");
        if (heads <= 0 || hidden % heads != 0) {
            throw new IllegalArgumentException("the attention reshape gives " + heads + " heads, which does not divide hidden size " + hidden);
        }
        double eps = constantFloat(onnx, "/embeddings/LayerNorm/Add", 1, "layer_norm_eps");
        boolean exactGelu = onnx.nodes().stream().anyMatch(n -> n.opType().equals("Erf")
                && n.name().startsWith("/encoder/layer.0/intermediate/"));
        if (!exactGelu) {
            throw new IllegalArgumentException("no Erf in layer 0's intermediate activation: only exact GELU is recognised");
        }

        JsonObject c = new JsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add("BertModel");
        c.add("architectures", architectures);
        c.addProperty("model_type", "bert");
        c.addProperty("vocab_size", words.get(0));
        c.addProperty("hidden_size", hidden);
        c.addProperty("num_hidden_layers", layers);
        c.addProperty("num_attention_heads", heads);
        c.addProperty("intermediate_size", require(tensors, "encoder.layer.0.intermediate.dense.bias").getShape().get(0));
        c.addProperty("hidden_act", "gelu");
        c.addProperty("max_position_embeddings", require(tensors, "embeddings.position_embeddings.weight").getShape().get(0));
        c.addProperty("type_vocab_size", require(tensors, "embeddings.token_type_embeddings.weight").getShape().get(0));
        c.addProperty("layer_norm_eps", eps);
        c.addProperty("position_embedding_type", "absolute");
        c.addProperty("pad_token_id", 0);
        c.addProperty("torch_dtype", "float32");
        c.addProperty("converted_from", "ONNX (" + onnx.producer() + ")");
        return new GsonBuilder().setPrettyPrinting().create().toJson(c) + "\n";
    }

    /** The int64 value of the Constant feeding input {@code constantIndex} of the node feeding input {@code inputIndex}. */
    private static long constantInput(OnnxModel onnx, String nodeName, int inputIndex, int constantIndex, String what) {
        OnnxModel.Node node = onnx.node(nodeName);
        OnnxModel.Node shape = node == null ? null : onnx.producerOf(node.inputs().get(inputIndex));
        OnnxModel.Node constant = shape == null || shape.inputs().size() <= constantIndex
                ? null : onnx.producerOf(shape.inputs().get(constantIndex));
        if (constant == null || constant.value() == null || constant.value().dataType() != OnnxModel.Tensor.INT64) {
            throw new IllegalArgumentException("cannot infer " + what + " from the graph (no int64 constant behind "
                    + nodeName + "); is this a BERT encoder exported by torch.onnx?");
        }
        return constant.value().data().duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private static double constantFloat(OnnxModel onnx, String nodeName, int inputIndex, String what) {
        OnnxModel.Node node = onnx.node(nodeName);
        OnnxModel.Node constant = node == null ? null : onnx.producerOf(node.inputs().get(inputIndex));
        if (constant == null || constant.value() == null || constant.value().dataType() != OnnxModel.Tensor.FLOAT) {
            throw new IllegalArgumentException("cannot infer " + what + " from the graph (no float constant behind "
                    + nodeName + ")");
        }
        float value = constant.value().data().duplicate().order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
        // the shortest decimal of the float: 1e-12 rather than 9.999999960041972e-13
        return Double.parseDouble(Float.toString(value));
    }

    private static NDArray require(Map<String, NDArray> tensors, String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("the ONNX model has no initializer '" + name + "'; is it a BERT encoder?");
        }
        return t;
    }

    private static NDArray floats(NDManager manager, OnnxModel.Tensor t, long[] shape) {
        if (t.dataType() != OnnxModel.Tensor.FLOAT) {
            throw new IllegalArgumentException("initializer '" + t.name() + "' has ONNX data type " + t.dataType()
                    + "; only float32 models are imported");
        }
        FloatBuffer values = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] copy = new float[values.remaining()];
        values.get(copy);
        if (copy.length != t.elementCount()) {
            throw new IllegalArgumentException("initializer '" + t.name() + "' holds " + copy.length
                    + " values for shape " + new Shape(shape));
        }
        return manager.create(copy, new Shape(shape));
    }

    /** A MatMul weight [in, out] as a Linear weight [out, in]. */
    private static NDArray transposed(NDManager manager, OnnxModel.Tensor t) {
        if (t.dims().length != 2) {
            throw new IllegalArgumentException("MatMul weight '" + t.name() + "' is not a matrix");
        }
        int in = (int) t.dims()[0];
        int out = (int) t.dims()[1];
        FloatBuffer values = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] result = new float[in * out];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                result[o * in + i] = values.get(i * out + o);
            }
        }
        return manager.create(result, new Shape(out, in));
    }
}
