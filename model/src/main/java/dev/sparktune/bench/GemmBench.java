package dev.sparktune.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * The machine's float32 matmul rate through the same libtorch the training step uses: square sizes, and the shapes
 * of the two models {@link TrainStepBench} steps: MiniLM at batch 32 x 128 (its attention projection and its
 * feed-forward layer) and the 134 M-parameter Llama at 4 x 512 (attention projection, MLP up and down, the
 * vocabulary head). The best median is the ceiling a training step's MFU is measured against.
 */
public final class GemmBench {
    /** One m x k x n product and its rates, in FLOP/s. */
    public record Result(long m, long k, long n, Samples flopsPerSecond) {
    }

    private GemmBench() {
    }

    public static List<Result> run(boolean quick, int repeats) {
        long[][] shapes = quick
                ? new long[][] {{256, 256, 256}, {512, 384, 1536}}
                : new long[][] {{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 384, 384}, {4096, 384, 1536},
                        {2048, 768, 768}, {2048, 768, 2048}, {2048, 2048, 768}, {2048, 768, 32000}};
        List<Result> results = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager()) {
            for (long[] mkn : shapes) {
                NDArray a = manager.randomNormal(new Shape(mkn[0], mkn[1]));
                NDArray b = manager.randomNormal(new Shape(mkn[1], mkn[2]));
                double flops = 2.0 * mkn[0] * mkn[1] * mkn[2];
                int perSample = (int) Math.max(2, Math.min(50, 2e10 / flops));
                for (int i = 0; i < 2; i++) {
                    a.matMul(b).close();     // warm-up: thread pools, caches
                }
                List<Double> rates = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    long start = System.nanoTime();
                    for (int i = 0; i < perSample; i++) {
                        a.matMul(b).close();
                    }
                    rates.add(flops * perSample / ((System.nanoTime() - start) / 1e9));
                }
                results.add(new Result(mkn[0], mkn[1], mkn[2], Samples.of(rates)));
            }
        }
        return results;
    }

    /** The best median rate: what a step could reach if it were all matmuls at the best shape. */
    public static double ceiling(List<Result> results) {
        return results.stream().mapToDouble(r -> r.flopsPerSecond().median()).max().orElseThrow();
    }
}
