package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Two threads (two ranks of one JVM) collect gradients at the same time, each getting exactly its own. */
class ThreadGradientsTest {
    /** Two threads, as two ranks of one executor JVM. */
    private static final ExecutorService THREADS = Executors.newFixedThreadPool(2, task -> {
        Thread t = new Thread(task);
        t.setDaemon(true);
        return t;
    });

    /** d/dx of sum(scale * x^3) over 20 overlapping backward passes, with the other thread's collector open too. */
    private static double[] cubeGradient(double scale, CyclicBarrier bothOpen) throws Exception {
        Engine.getInstance();
        JniUtils.setGradMode(false);   // as the trainer leaves a Spark task thread before training
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new double[] {-2, -0.5, 0.25, 1, 3});
            x.setRequiresGradient(true);
            double[] sum = new double[5];
            for (int pass = 0; pass < 20; pass++) {
                try (NDManager step = manager.newSubManager(); GradientCollector collector = new ThreadGradients()) {
                    bothOpen.await(30, TimeUnit.SECONDS);
                    NDArray y = Scalars.times(x.get(step, new ai.djl.ndarray.index.NDIndex("...")).pow(
                            Scalars.constant(x, 3)), scale).sum();
                    collector.backward(y);
                }
                double[] g = x.getGradient().toDoubleArray();
                for (int i = 0; i < g.length; i++) {
                    sum[i] += g[i];
                }
                x.getGradient().subi(x.getGradient());
            }
            assertFalse(JniUtils.isGradMode(), "closing restores the thread's grad mode");
            return sum;
        }
    }

    @Test
    void twoThreadsBackPropagateAtTheSameTimeIntoTheirOwnGradients() throws Exception {
        CyclicBarrier bothOpen = new CyclicBarrier(2);
        Future<double[]> a = THREADS.submit(() -> cubeGradient(1.0, bothOpen));
        Future<double[]> b = THREADS.submit(() -> cubeGradient(-2.0, bothOpen));
        double[] x = {-2, -0.5, 0.25, 1, 3};
        double[] expectedA = new double[5];
        double[] expectedB = new double[5];
        for (int i = 0; i < 5; i++) {
            expectedA[i] = 20 * 3 * x[i] * x[i];
            expectedB[i] = 20 * -2.0 * 3 * x[i] * x[i];
        }
        assertArrayEquals(expectedA, a.get(60, TimeUnit.SECONDS), 1e-12);
        assertArrayEquals(expectedB, b.get(60, TimeUnit.SECONDS), 1e-12);
    }

    @Test
    void djlsOwnCollectorRefusesASecondOneInTheJvmWhichIsWhyThisClassExists() throws Exception {
        try (GradientCollector first = Engine.getInstance().newGradientCollector()) {
            Future<Throwable> second = THREADS.submit(() -> {
                try (GradientCollector other = Engine.getInstance().newGradientCollector()) {
                    return null;
                } catch (IllegalStateException e) {
                    return e;
                }
            });
            assertTrue(second.get(30, TimeUnit.SECONDS) instanceof IllegalStateException);
        }
        // ThreadGradients opens beside DJL's, or beside another of its own, in any thread
        try (GradientCollector first = Engine.getInstance().newGradientCollector();
             GradientCollector mine = new ThreadGradients()) {
            assertThrows(UnsupportedOperationException.class, mine::zeroGradients);
        }
    }
}
