package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Vector API kernel and the plain loops give the same bits as the element-by-element definition, for lengths
 * around every vector width (the scalar tails), at odd offsets, from direct buffers of either byte order.
 */
class SumKernelTest {
    private static final SumKernel SCALAR = new ScalarSumKernel();
    private static final SumKernel VECTOR = new VectorSumKernel();

    static IntStream lengths() {
        return IntStream.concat(IntStream.rangeClosed(0, 67), IntStream.of(1023, 100_003));
    }

    @Test
    void theTestJvmHasTheVectorModuleAndUsesIt() {
        // surefire starts the JVM with Spark's options, which add jdk.incubator.vector; RingProcessesTest covers its absence
        assertInstanceOf(VectorSumKernel.class, SumKernel.best());
        assertEquals(SumKernel.best().name(), RingCollective.reductionKernel());
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void accumulatingFloatsFromABufferMatchesTheDefinition(int length) {
        Random random = new Random(length);
        for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
            for (int divisor : new int[] {1, 3, 4}) {
                int at = 5;
                float[] target = randomFloats(random, at + length + 2);
                float[] received = randomFloats(random, length);
                ByteBuffer in = ByteBuffer.allocateDirect(8 + 4 * length).order(order).position(8);
                for (float v : received) {
                    in.putFloat(v);
                }
                float[] expected = target.clone();
                for (int i = 0; i < length; i++) {
                    expected[at + i] = divisor == 1 ? target[at + i] + received[i] : (target[at + i] + received[i]) / divisor;
                }
                for (SumKernel kernel : new SumKernel[] {SCALAR, VECTOR}) {
                    float[] actual = target.clone();
                    in.position(8);
                    kernel.accumulate(actual, at, in, length, divisor);
                    assertArrayEquals(expected, actual, kernel.name() + " " + order + " / " + divisor);
                    assertEquals(8 + 4 * length, in.position(), kernel.name() + " leaves the buffer after what it read");
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void accumulatingDoublesFromABufferMatchesTheDefinition(int length) {
        Random random = new Random(-length);
        for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
            for (int divisor : new int[] {1, 3}) {
                int at = 3;
                double[] target = random.doubles(at + length + 1, -1e3, 1e3).toArray();
                double[] received = random.doubles(length, -1e3, 1e3).toArray();
                ByteBuffer in = ByteBuffer.allocateDirect(16 + 8 * length).order(order).position(16);
                for (double v : received) {
                    in.putDouble(v);
                }
                double[] expected = target.clone();
                for (int i = 0; i < length; i++) {
                    expected[at + i] = divisor == 1 ? target[at + i] + received[i] : (target[at + i] + received[i]) / divisor;
                }
                for (SumKernel kernel : new SumKernel[] {SCALAR, VECTOR}) {
                    double[] actual = target.clone();
                    in.position(16);
                    kernel.accumulate(actual, at, in, length, divisor);
                    assertArrayEquals(expected, actual, kernel.name() + " " + order + " / " + divisor);
                    assertEquals(16 + 8 * length, in.position());
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void summingArraysAddsInTheCallersOrderAndDividing(int length) {
        Random random = new Random(31L * length);
        for (int sources = 1; sources <= 4; sources++) {
            float[][] floats = new float[sources][];
            double[][] doubles = new double[sources][];
            int[] offsets = new int[sources];
            for (int k = 0; k < sources; k++) {
                offsets[k] = k;
                floats[k] = randomFloats(random, k + length);
                doubles[k] = random.doubles(k + length, -1e3, 1e3).toArray();
            }
            int from = Math.min(2, length);
            float[] expectedFloats = new float[length + 1];
            double[] expectedDoubles = new double[length + 1];
            for (int i = from; i < length; i++) {
                float f = floats[0][offsets[0] + i];
                double d = doubles[0][offsets[0] + i];
                for (int k = 1; k < sources; k++) {
                    f += floats[k][offsets[k] + i];
                    d += doubles[k][offsets[k] + i];
                }
                expectedFloats[1 + i] = f / 3;
                expectedDoubles[1 + i] = d / 3;
            }
            for (SumKernel kernel : new SumKernel[] {SCALAR, VECTOR}) {
                float[] f = new float[length + 1];
                double[] d = new double[length + 1];
                kernel.sum(f, 1, floats, offsets, from, length);
                kernel.sum(d, 1, doubles, offsets, from, length);
                kernel.divide(f, 1 + from, 1 + length, 3);
                kernel.divide(d, 1 + from, 1 + length, 3);
                assertArrayEquals(expectedFloats, f, kernel.name() + ", " + sources + " sources");
                assertArrayEquals(expectedDoubles, d, kernel.name() + ", " + sources + " sources");
            }
        }
    }

    /**
     * The kernels over off-heap memory (a {@link FlatBuffer}'s) give the bits their array twins give, which the tests
     * above hold to the definition: accumulating at an offset, summing sources at offsets, dividing.
     */
    @ParameterizedTest
    @MethodSource("lengths")
    void offHeapTargetsGiveTheSameBitsAsArrays(int length) {
        Random random = new Random(7L * length + 1);
        int at = 5;
        float[] floats = randomFloats(random, at + length + 2);
        double[] doubles = random.doubles(at + length + 2, -1e3, 1e3).toArray();
        float[] receivedFloats = randomFloats(random, length);
        double[] receivedDoubles = random.doubles(length, -1e3, 1e3).toArray();
        for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
            ByteBuffer inFloats = ByteBuffer.allocateDirect(4 * length).order(order);
            ByteBuffer inDoubles = ByteBuffer.allocateDirect(8 * length).order(order);
            inFloats.asFloatBuffer().put(receivedFloats);
            inDoubles.asDoubleBuffer().put(receivedDoubles);
            for (int divisor : new int[] {1, 3}) {
                for (SumKernel kernel : new SumKernel[] {SCALAR, VECTOR}) {
                    String what = kernel.name() + " " + order + " / " + divisor;
                    float[] expectedFloats = floats.clone();
                    kernel.accumulate(expectedFloats, at, inFloats.position(0), length, divisor);
                    FlatBuffer f = CollectiveContractTest.offHeap(floats);
                    kernel.accumulateFloats(f.memory(), at, inFloats.position(0), length, divisor);
                    assertArrayEquals(expectedFloats, CollectiveContractTest.floats(f), what);
                    assertEquals(4 * length, inFloats.position(), what);

                    double[] expectedDoubles = doubles.clone();
                    kernel.accumulate(expectedDoubles, at, inDoubles.position(0), length, divisor);
                    FlatBuffer d = CollectiveContractTest.offHeap(doubles);
                    kernel.accumulateDoubles(d.memory(), at, inDoubles.position(0), length, divisor);
                    assertArrayEquals(expectedDoubles, CollectiveContractTest.doubles(d), what);
                    assertEquals(8 * length, inDoubles.position(), what);
                }
            }
        }
        for (int sources = 1; sources <= 4; sources++) {
            float[][] floatSources = new float[sources][];
            double[][] doubleSources = new double[sources][];
            ByteBuffer[] floatMemories = new ByteBuffer[sources];
            ByteBuffer[] doubleMemories = new ByteBuffer[sources];
            int[] offsets = new int[sources];
            for (int k = 0; k < sources; k++) {
                offsets[k] = k;
                floatSources[k] = randomFloats(random, k + length);
                doubleSources[k] = random.doubles(k + length, -1e3, 1e3).toArray();
                floatMemories[k] = CollectiveContractTest.offHeap(floatSources[k]).memory();
                doubleMemories[k] = CollectiveContractTest.offHeap(doubleSources[k]).memory();
            }
            int from = Math.min(2, length);
            for (SumKernel kernel : new SumKernel[] {SCALAR, VECTOR}) {
                float[] expectedFloats = new float[length + 1];
                double[] expectedDoubles = new double[length + 1];
                kernel.sum(expectedFloats, 1, floatSources, offsets, from, length);
                kernel.sum(expectedDoubles, 1, doubleSources, offsets, from, length);
                kernel.divide(expectedFloats, 1 + from, 1 + length, 3);
                kernel.divide(expectedDoubles, 1 + from, 1 + length, 3);
                FlatBuffer f = FlatBuffer.of(DataType.FLOAT32, length + 1);
                FlatBuffer d = FlatBuffer.of(DataType.FLOAT64, length + 1);
                kernel.sumFloats(f.memory(), 1, floatMemories, offsets, from, length);
                kernel.sumDoubles(d.memory(), 1, doubleMemories, offsets, from, length);
                kernel.divideFloats(f.memory(), 1 + from, 1 + length, 3);
                kernel.divideDoubles(d.memory(), 1 + from, 1 + length, 3);
                assertArrayEquals(expectedFloats, CollectiveContractTest.floats(f), kernel.name() + ", " + sources + " sources");
                assertArrayEquals(expectedDoubles, CollectiveContractTest.doubles(d), kernel.name() + ", " + sources + " sources");
            }
        }
    }

    /** Values of very different magnitudes, so that any change in the order of additions changes the bits. */
    private static float[] randomFloats(Random random, int length) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(9) - 4));
        }
        return values;
    }
}
