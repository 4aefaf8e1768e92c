package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A thread's dropout masks are a function of its seed alone, whatever other threads draw meanwhile. */
class SeededDropoutTest {
    /** Two threads, as two ranks of one executor JVM. */
    private static final ExecutorService THREADS = Executors.newFixedThreadPool(2, task -> {
        Thread t = new Thread(task);
        t.setDaemon(true);
        return t;
    });
    private static final int DRAWS = 40;

    /** {@link #DRAWS} masks of 1,000 elements at rate 0.3 after {@code seed}, each as an array of 0 and 1/0.7. */
    private static List<float[]> masks(long seed, CyclicBarrier start) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray ones = manager.ones(new Shape(1000));
            if (start != null) {
                start.await(30, TimeUnit.SECONDS);
            }
            SeededDropout.seed(seed);
            try {
                List<float[]> out = new ArrayList<>();
                for (int i = 0; i < DRAWS; i++) {
                    out.add(SeededDropout.apply(ones, 0.3).toFloatArray());
                }
                return out;
            } finally {
                SeededDropout.clear();
            }
        }
    }

    @Test
    void concurrentThreadsDrawTheMasksTheyDrawAlone() throws Exception {
        List<float[]> aloneA = masks(11, null);
        List<float[]> aloneB = masks(12, null);
        CyclicBarrier start = new CyclicBarrier(2);
        Future<List<float[]>> a = THREADS.submit(() -> masks(11, start));
        Future<List<float[]>> b = THREADS.submit(() -> masks(12, start));
        List<float[]> togetherA = a.get(60, TimeUnit.SECONDS);
        List<float[]> togetherB = b.get(60, TimeUnit.SECONDS);
        for (int i = 0; i < DRAWS; i++) {
            assertArrayEquals(aloneA.get(i), togetherA.get(i), "draw " + i + " of seed 11");
            assertArrayEquals(aloneB.get(i), togetherB.get(i), "draw " + i + " of seed 12");
        }
        assertFalse(Arrays.equals(aloneA.get(0), aloneB.get(0)), "two seeds, two streams");
        assertFalse(Arrays.equals(aloneA.get(0), aloneA.get(1)), "each draw of a stream is a new mask");
    }

    @Test
    void masksDropAtTheRateAndScaleWhatTheyKeep() throws Exception {
        int zeros = 0;
        for (float[] mask : masks(5, null)) {
            for (float v : mask) {
                if (v == 0) {
                    zeros++;
                } else {
                    assertEquals(1 / 0.7, v, 1e-6);
                }
            }
        }
        // 40,000 Bernoulli(0.3) draws: standard deviation 92, the bound is 5 of them
        assertEquals(12_000, zeros, 460);
    }

    @Test
    void evenAndOddElementsEachDropAtTheRate() throws Exception {
        int[] zeros = new int[2];
        for (float[] mask : masks(7, null)) {
            for (int i = 0; i < mask.length; i++) {
                zeros[i % 2] += mask[i] == 0 ? 1 : 0;
            }
        }
        // 20,000 Bernoulli(0.3) draws each: standard deviation 65, the bound is 5 of them; the two halves of one
        // 64-bit draw feed an even and an odd element
        assertEquals(6_000, zeros[0], 325);
        assertEquals(6_000, zeros[1], 325);
    }

    @Test
    void aDoubleOrHalfInputKeepsItsTypeAndItsGradientIsTheMask() {
        try (NDManager manager = NDManager.newBaseManager()) {
            SeededDropout.seed(3);
            try {
                NDArray x = manager.ones(new Shape(501), DataType.FLOAT64).mul(2);
                x.setRequiresGradient(true);
                NDArray y;
                try (ThreadGradients gradients = new ThreadGradients()) {
                    y = SeededDropout.apply(x, 0.25);
                    gradients.backward(y.sum());
                }
                assertEquals(DataType.FLOAT64, y.getDataType());
                double[] out = y.toDoubleArray();
                double[] gradient = x.getGradient().toDoubleArray();
                for (int i = 0; i < out.length; i++) {
                    assertEquals(out[i] == 0 ? 0 : 1 / 0.75, gradient[i], 0, "element " + i);
                    assertTrue(out[i] == 0 || out[i] == 2 / 0.75, "element " + i + ": " + out[i]);
                }
                NDArray half = SeededDropout.apply(manager.ones(new Shape(8), DataType.FLOAT16), 0.5);
                assertEquals(DataType.FLOAT16, half.getDataType());
            } finally {
                SeededDropout.clear();
            }
        }
    }
}
