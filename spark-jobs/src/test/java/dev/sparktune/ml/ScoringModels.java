package dev.sparktune.ml;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.onnx.BertOnnxImport;
import dev.sparktune.io.onnx.MiniLmArtifact;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.PeftFormat;
import dev.sparktune.peft.PeftModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Model folders the scoring tests write, the way users have them on disk: the real all-MiniLM-L6-v2
 * imported from its Maven artifact (as {@code sparktune import-onnx} does) with a seeded random
 * 3-class head, a LoRA adapter on it in PEFT format, and a tiny random Llama in Hugging Face layout.
 */
public final class ScoringModels {
    static final int CLASSES = 3;

    private ScoringModels() {
    }

    /** all-MiniLM-L6-v2 as a Hugging Face folder with a seeded random {@code classifier} head. */
    public static Path miniLmClassifier(Path dir) {
        Path onnx = MiniLmArtifact.extract(MiniLmArtifact.ONNX_ENTRY, dir.resolve("onnx/model.onnx"));
        Path tokenizer = MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, dir.resolve("onnx/tokenizer.json"));
        ModelDirectory base = BertOnnxImport.importTo(onnx, tokenizer, dir.resolve("all-MiniLM-L6-v2"));
        Path out = dir.resolve("minilm-classifier");
        try (NDManager manager = NDManager.newBaseManager()) {
            Bert bert = ((Bert) base.load(manager, DataType.FLOAT32)).withClassifier(CLASSES, manager, 11);
            ModelDirectory.write(out, base.configJson(), bert.weights().asMap(), Long.MAX_VALUE, base.path());
        }
        return out;
    }

    /** A LoRA adapter (r = 8 on query and value) for {@code classifierDir} with non-zero, seeded A and B. */
    static Path loraAdapter(Path classifierDir, Path out) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Bert bert = (Bert) ModelDirectory.open(classifierDir).load(manager, DataType.FLOAT32);
            Lora lora = new Lora(8, 16, 0.0, List.of("query", "value"), false, false, List.of());
            PeftModel initial = PeftModel.apply(bert, lora, manager, 5);
            Random random = new Random(23);
            Map<String, NDArray> added = new LinkedHashMap<>();
            for (String name : initial.trainable()) {
                if (name.contains(".lora_")) {
                    added.put(name, gaussian(initial.weights().get(name).getShape(), 0.05, random, manager));
                }
            }
            PeftFormat.save(PeftModel.withTensors(bert, lora, added), out, classifierDir.toString());
        }
        return out;
    }

    /**
     * A copy of a model or adapter folder (files hard-linked) whose config.json names the classes in {@code id2label},
     * as {@code AutoModelForSequenceClassification} saves them.
     */
    public static Path withId2label(Path folder, List<String> names, Path out) {
        try {
            Files.createDirectories(out);
            try (Stream<Path> files = Files.list(folder)) {
                for (Path file : files.toList()) {
                    if (!file.getFileName().toString().equals(ModelDirectory.CONFIG_FILE)) {
                        Files.createLink(out.resolve(file.getFileName()), file);
                    }
                }
            }
            Path config = folder.resolve(ModelDirectory.CONFIG_FILE);
            JsonObject json = Files.exists(config) ? JsonParser.parseString(Files.readString(config)).getAsJsonObject()
                    : new JsonObject();
            Files.writeString(out.resolve(ModelDirectory.CONFIG_FILE), new LabelsFile(names).addTo(json).toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** A tiny random Llama (vocab 61, 2 layers, grouped-query attention) as config.json + model.safetensors. */
    static Path tinyLlama(Path out) {
        return tinyLlama(out, 61);
    }

    /** A tiny random Llama over all-MiniLM-L6-v2's vocabulary, with that tokenizer.json beside its weights. */
    static Path tinyLlamaWithTokenizer(Path out) {
        tinyLlama(out, 30522);
        MiniLmArtifact.extract(MiniLmArtifact.TOKENIZER_ENTRY, out.resolve("tokenizer.json"));
        return out;
    }

    private static Path tinyLlama(Path out, int vocab) {
        String json = """
                {"model_type": "llama", "vocab_size": %d, "hidden_size": 32, "intermediate_size": 48,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
                 "max_position_embeddings": 128, "hidden_act": "silu"}
                """.formatted(vocab);
        Random random = new Random(3);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            LlamaConfig.fromJson(json, "tiny config.json").parameterShapes().forEach((name, shape) -> tensors.put(name,
                    name.contains("norm") ? gaussian(shape, 0.1, random, manager).add(1) : gaussian(shape, 0.2, random, manager)));
            ModelDirectory.write(out, json, tensors, Long.MAX_VALUE, null);
        }
        return out;
    }

    private static NDArray gaussian(Shape shape, double std, Random random, NDManager manager) {
        double[] values = new double[(int) shape.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = std * random.nextGaussian();
        }
        return manager.create(values, shape).toType(DataType.FLOAT32, false);
    }
}
