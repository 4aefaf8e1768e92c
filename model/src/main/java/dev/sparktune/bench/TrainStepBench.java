package dev.sparktune.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.arch.LlamaConfig;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.arch.PretrainedModel;
import dev.sparktune.arch.Weights;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.nn.SeededDropout;
import dev.sparktune.nn.ThreadGradients;
import dev.sparktune.optim.AdamW;
import dev.sparktune.optim.Gradients;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.optim.ParameterGroups;
import dev.sparktune.peft.Freeze;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.ClassificationLoss;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.function.BiFunction;

/**
 * One training step (forward, backward, gradient clipping, AdamW) as the trainer runs it, on one rank and the
 * calling thread: all-MiniLM-L6-v2 with a classification head at sequence length 128, and a Llama of about 130 M
 * parameters (random weights; only the shapes matter here) at sequence length 512, each fine-tuned in full, with
 * LoRA (rank 16 on every linear layer, as the demo) and with freeze tuning (the top 2 blocks).
 */
public final class TrainStepBench {
    /** A model at one batch shape; {@code quick} shapes are small enough for a smoke run. */
    public record Workload(String name, int rows, int tokens) {
    }

    /** One method's step time and its counted FLOPs. */
    public record Result(Workload workload, String method, long trainableParameters, double flopsPerStep,
                         Samples secondsPerStep) {
        public Samples tokensPerSecond() {
            return secondsPerStep.map(s -> workload.rows() * (double) workload.tokens() / s);
        }

        public Samples flopsPerSecond() {
            return secondsPerStep.map(s -> flopsPerStep / s);
        }
    }

    /** One method's training steps under libtorch's profiler. */
    public record Profiled(Workload workload, String method, OpProfile profile) {
    }

    static final String LLAMA_100M = """
            {"model_type": "llama", "vocab_size": 32000, "hidden_size": 768, "intermediate_size": 2048,
             "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 12, "rms_norm_eps": 1e-6,
             "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": 2048,
             "hidden_act": "silu"}""";
    static final String LLAMA_QUICK = """
            {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "rms_norm_eps": 1e-6,
             "rope_theta": 10000.0, "tie_word_embeddings": false, "max_position_embeddings": 128,
             "hidden_act": "silu"}""";

    private static final long STEP_SEED = 42;

    private TrainStepBench() {
    }

    /** The three methods on MiniLM (from {@code miniLm}, a model folder) and on the Llama. */
    public static List<Result> run(Path miniLm, boolean quick, int repeats) {
        return onEachModelAndMethod(miniLm, quick, (stepper, method) -> measure(stepper, method, quick, repeats));
    }

    /** The same steps as {@link #run}, {@code steps} of each after the warm-up, under libtorch's profiler. */
    public static List<Profiled> profile(Path miniLm, boolean quick, int steps) {
        return onEachModelAndMethod(miniLm, quick, (stepper, method) -> {
            warmUp(stepper);
            return new Profiled(stepper.workload, label(method), OpProfile.record(steps, () -> {
                for (int i = 0; i < steps; i++) {
                    stepper.step();
                }
            }));
        });
    }

    private static <T> List<T> onEachModelAndMethod(Path miniLm, boolean quick, BiFunction<Stepper, Method, T> body) {
        List<T> results = new ArrayList<>();
        Workload bert = quick ? new Workload("all-MiniLM-L6-v2", 4, 32) : new Workload("all-MiniLM-L6-v2", 32, 128);
        Workload llama = quick ? new Workload("Llama, 0.2 M parameters", 2, 64)
                : new Workload("Llama, 134 M parameters", 4, 512);
        for (Method method : methods()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                Bert base = ((Bert) ModelDirectory.open(miniLm).load(manager, DataType.FLOAT32))
                        .withClassifier(2, manager, 1);
                try (Stepper stepper = new Stepper(bert, base, method, manager)) {
                    results.add(body.apply(stepper, method));
                }
            }
        }
        for (Method method : methods()) {
            try (NDManager manager = NDManager.newBaseManager();
                 Stepper stepper = new Stepper(llama, randomLlama(quick ? LLAMA_QUICK : LLAMA_100M, manager), method,
                         manager)) {
                results.add(body.apply(stepper, method));
            }
        }
        return results;
    }

    static List<Method> methods() {
        return List.of(new FullFineTuning(), new Lora(16, 32, 0.0, List.of("all"), false, false, List.of()),
                new Freeze(2, List.of()));
    }

    static String label(Method method) {
        if (method instanceof Lora lora) {
            return "LoRA r" + lora.rank() + " " + String.join(",", lora.target());
        }
        if (method instanceof Freeze freeze) {
            return "freeze, top " + freeze.trainableLayers();
        }
        return "full";
    }

    private static void warmUp(Stepper stepper) {
        for (int i = 0; i < 2; i++) {
            stepper.step();     // warm-up: allocator, thread pools
        }
    }

    private static Result measure(Stepper stepper, Method method, boolean quick, int repeats) {
        int stepsPerSample = quick ? 1 : 2;
        warmUp(stepper);
        List<Double> seconds = new ArrayList<>();
        for (int r = 0; r < repeats; r++) {
            long start = System.nanoTime();
            for (int i = 0; i < stepsPerSample; i++) {
                stepper.step();
            }
            seconds.add((System.nanoTime() - start) / 1e9 / stepsPerSample);
        }
        Workload w = stepper.workload;
        return new Result(w, label(method), stepper.trainableParameters(),
                StepFlops.count(stepper.peft, w.rows(), w.tokens()), Samples.of(seconds));
    }

    /** One model under one method with its optimizer: runs training steps on random tokens. */
    private static final class Stepper implements AutoCloseable {
        private final Workload workload;
        private final PeftModel peft;
        private final SortedMap<String, NDArray> trainable;
        private final Optimizer optimizer;
        private final NDManager manager;

        Stepper(Workload workload, PretrainedModel base, Method method, NDManager manager) {
            this.workload = workload;
            this.manager = manager;
            this.peft = PeftModel.apply(base, method, manager, 1);
            peft.requireGradients();
            this.trainable = peft.trainableTensors();
            this.optimizer = new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.huggingFace(0.0), manager);
        }

        long trainableParameters() {
            return trainable.values().stream().mapToLong(t -> t.getShape().size()).sum();
        }

        void step() {
            SeededDropout.seed(STEP_SEED);     // the trainer's dropout masks, not libtorch's generator
            try (NDManager step = manager.newSubManager()) {
                PretrainedModel model = peft.model(true);
                long vocabulary = model.weights().get(model.layout().embeddings() + ".weight").getShape().get(0);
                Workload w = workload;
                NDArray ids = step.randomInteger(0, vocabulary, new Shape(w.rows(), w.tokens()), DataType.INT64);
                NDArray keep = step.ones(new Shape(w.rows(), w.tokens()), DataType.INT64);
                NDArray positions = step.arange(0L, w.tokens(), 1L, DataType.INT64).reshape(1, -1).repeat(0, w.rows());
                try (ThreadGradients gradients = new ThreadGradients()) {
                    NDArray loss;
                    if (model instanceof Bert bert) {
                        NDArray hidden = bert.hiddenStates(ids, null, positions, AttentionMask.bidirectional(keep));
                        NDArray labels = step.randomInteger(0, 2, new Shape(w.rows()), DataType.INT64);
                        loss = ClassificationLoss.PLAIN.mean(bert.classify(hidden, keep), labels);
                    } else {
                        NDArray logits = ((Llama) model).logits(ids, positions, AttentionMask.causal(keep), null);
                        loss = CausalLmLoss.FLOAT32.mean(logits, ids);
                    }
                    gradients.backward(loss);
                }
                Gradients.clipByGlobalNorm(trainable, 1.0);
                optimizer.step(trainable, 1e-5);
                Gradients.zero(trainable);
            } finally {
                SeededDropout.clear();
            }
        }

        @Override
        public void close() {
            optimizer.close();
        }
    }

    /** A Llama of {@code configJson}'s shapes with random weights: norms at one, the rest N(0, 0.02). */
    static Llama randomLlama(String configJson, NDManager manager) {
        LlamaConfig config = LlamaConfig.fromJson(configJson, "benchmark config");
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        config.parameterShapes().forEach((name, shape) -> tensors.put(name, name.contains("norm")
                ? manager.ones(shape) : manager.randomNormal(0f, 0.02f, shape, DataType.FLOAT32)));
        return new Llama(config, new Weights(tensors, "random weights"));
    }
}
