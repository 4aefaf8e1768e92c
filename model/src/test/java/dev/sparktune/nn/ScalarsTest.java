package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * Constants under autograd must survive the garbage collector between forward and backward. The test frees what it
 * can and refills freed native memory with NaN bytes before backward, so a constant read from freed memory shows.
 */
class ScalarsTest {

    /** d/dx sum(op(x, 3)) after a forward pass, a full GC and fresh direct buffers full of NaN bytes. */
    private static double[] gradientAfterGarbageCollection(BiFunction<NDArray, Double, NDArray> op) {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new double[] {1, 2, 3, 4});
            x.setRequiresGradient(true);
            try (NDManager step = manager.newSubManager();
                 GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray y = op.apply(x.get(step, new ai.djl.ndarray.index.NDIndex("...")), 3.0).sum();
                List<ByteBuffer> filler = new ArrayList<>();
                for (int round = 0; round < 20; round++) {
                    System.gc();
                    for (int i = 0; i < 200; i++) {
                        ByteBuffer b = ByteBuffer.allocateDirect(8);
                        b.putLong(0, 0x7ff8_dead_beef_0000L);    // a NaN
                        filler.add(b);
                    }
                }
                collector.backward(y);
                filler.clear();
            }
            return x.getGradient().toDoubleArray();
        }
    }

    @Test
    void aConstantMultiplierSurvivesGarbageCollectionBeforeBackward() {
        for (int trial = 0; trial < 5; trial++) {
            assertArrayEquals(new double[] {3, 3, 3, 3}, gradientAfterGarbageCollection(Scalars::times), 0.0);
            assertArrayEquals(new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0},
                    gradientAfterGarbageCollection(Scalars::dividedBy), 0.0);
        }
        double[] djl = gradientAfterGarbageCollection((x, v) -> x.mul(v));
        System.out.println("DJL's own x.mul(3.0) under the same treatment gave gradient " + java.util.Arrays.toString(djl));
    }

    @Test
    void constantsTakeTheDtypeOfTheArrayTheyMeet() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray f = manager.create(new float[] {1f});
            assertEquals(DataType.FLOAT32, Scalars.constant(f, 0.1).getDataType());
            assertEquals(0.1f, Scalars.times(f, 0.1).getFloat(), 0f);
            NDArray d = manager.create(new double[] {1});
            assertEquals(0.1, Scalars.times(d, 0.1).getDouble(), 0.0);
        }
    }
}
