package dev.sparktune.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.sparktune.arch.Bert;
import dev.sparktune.arch.ModelDirectory;
import dev.sparktune.io.onnx.ImportedMiniLm;
import dev.sparktune.nn.AttentionMask;
import dev.sparktune.optim.Gradients;
import dev.sparktune.optim.Optimizer;
import dev.sparktune.optim.ParameterGroups;
import dev.sparktune.optim.AdamW;
import dev.sparktune.peft.FullFineTuning;
import dev.sparktune.peft.Lora;
import dev.sparktune.peft.Method;
import dev.sparktune.peft.PeftModel;
import dev.sparktune.train.ClassificationLoss;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SortedMap;

/**
 * Benchmark, not a test: one training step of the imported all-MiniLM-L6-v2 at batch 32 x 128
 * tokens (forward, backward, clip, AdamW), full and LoRA, against the float32 matmul ceiling
 * measured through DJL in the same run. Prints one Markdown table for BENCHMARKS.md.
 */
public final class TrainStepBenchmark {
    private static final int BATCH = 32;
    private static final int TOKENS = 128;

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("sparktune-bench");
        Path model = ImportedMiniLm.importTo(dir);
        System.out.printf(Locale.ROOT, "PyTorch %s, %d intra-op threads%n", Engine.getInstance().getVersion(), JniUtils.getNumThreads());
        double ceiling = matmulCeiling();
        for (Method method : List.of(new FullFineTuning(), new Lora(8, 16, 0.0, List.of("query", "value"), false, false, List.of()))) {
            try (NDManager manager = NDManager.newBaseManager()) {
                Bert base = ((Bert) ModelDirectory.open(model).load(manager, DataType.FLOAT32)).withClassifier(2, manager, 1);
                PeftModel peft = PeftModel.apply(base, method, manager, 1);
                peft.requireGradients();
                SortedMap<String, NDArray> trainable = peft.trainableTensors();
                long nonEmbedding = base.weights().asMap().entrySet().stream()
                        .filter(e -> !e.getKey().startsWith("embeddings.")).mapToLong(e -> e.getValue().getShape().size()).sum();
                try (Optimizer optimizer = new Optimizer(new AdamW(0.9, 0.999, 1e-8), ParameterGroups.huggingFace(0.0), manager)) {
                    for (int i = 0; i < 3; i++) {
                        step(peft, trainable, optimizer, manager);     // warm-up
                    }
                    int steps = 10;
                    long start = System.nanoTime();
                    for (int i = 0; i < steps; i++) {
                        step(peft, trainable, optimizer, manager);
                    }
                    double seconds = (System.nanoTime() - start) / 1e9 / steps;
                    long tokens = (long) BATCH * TOKENS;
                    // Model FLOPs (Kaplan et al.): 2N per token forward, 2N backward to activations, 2N to weights
                    // (full only), plus attention scores and values: 4 T d per token per layer forward, twice that backward.
                    boolean full = method instanceof FullFineTuning;
                    double attention = 3.0 * 4 * 6 * TOKENS * 384 * tokens;
                    double flops = (full ? 6.0 : 4.0) * nonEmbedding * tokens + attention;
                    System.out.printf(Locale.ROOT, "| %s step, batch %d x %d | %.3f s/step | %,.0f tok/s | %.1f GFLOP/s = %.0f%% of the ceiling |%n",
                            full ? "full fine-tuning" : "LoRA r=8 (query, value)", BATCH, TOKENS, seconds, tokens / seconds,
                            flops / seconds / 1e9, 100 * flops / seconds / ceiling);
                }
            }
        }
    }

    private static void step(PeftModel peft, SortedMap<String, NDArray> trainable, Optimizer optimizer, NDManager manager) {
        try (NDManager step = manager.newSubManager()) {
            NDArray ids = step.randomInteger(1000, 30000, new Shape(BATCH, TOKENS), DataType.INT64);
            NDArray keep = step.ones(new Shape(BATCH, TOKENS), DataType.INT64);
            NDArray positions = step.arange(0L, TOKENS, 1L, DataType.INT64).reshape(1, -1).repeat(0, BATCH);
            NDArray labels = step.randomInteger(0, 2, new Shape(BATCH), DataType.INT64);
            Bert model = (Bert) peft.model(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray hidden = model.hiddenStates(ids, null, positions, AttentionMask.bidirectional(keep));
                collector.backward(ClassificationLoss.PLAIN.mean(model.classify(hidden, keep), labels));
            }
            Gradients.clipByGlobalNorm(trainable, 1.0);
            optimizer.step(trainable, 1e-5);
            Gradients.zero(trainable);
        }
    }

    /** The best float32 GEMM rate over square sizes 1024 and 2048 and the step's own [4096, 384] x [384, 1536]. */
    private static double matmulCeiling() {
        double best = 0;
        long[][] shapes = {{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 384, 1536}};
        try (NDManager m = NDManager.newBaseManager()) {
            for (long[] mkn : shapes) {
                NDArray a = m.randomNormal(new Shape(mkn[0], mkn[1]));
                NDArray b = m.randomNormal(new Shape(mkn[1], mkn[2]));
                for (int i = 0; i < 3; i++) {
                    a.matMul(b).close();
                }
                int n = 10;
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    a.matMul(b).close();
                }
                double rate = 2.0 * mkn[0] * mkn[1] * mkn[2] * n / ((System.nanoTime() - start) / 1e9);
                System.out.printf(Locale.ROOT, "| float32 matmul %d x %d x %d (DJL) | %.1f GFLOP/s | | |%n", mkn[0], mkn[1], mkn[2], rate / 1e9);
                best = Math.max(best, rate);
            }
        }
        return best;
    }

}
