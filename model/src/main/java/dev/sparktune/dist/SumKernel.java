package dev.sparktune.dist;

import java.nio.ByteBuffer;

/**
 * The element-wise arithmetic of reductions. Every implementation gives the same bits: each element sees the same
 * IEEE operations in the same order (adds in the caller's order, then at most one division), whatever the width of
 * the instructions that carry them out.
 */
sealed interface SumKernel permits ScalarSumKernel, VectorSumKernel {

    /** The JDK Vector API's kernel when the JVM was started with {@code --add-modules=jdk.incubator.vector}, else plain loops. */
    static SumKernel best() {
        return Chosen.KERNEL;
    }

    /** "vector (512-bit)" or "scalar": which kernel this JVM uses, for benchmarks and logs. */
    String name();

    /**
     * Elements {@code [at, at + count)} of {@code array} become {@code (element + received) / divisor}, received read
     * from {@code in} at its position in its byte order, whose position then moves past them. No division when
     * {@code divisor} is 1.
     */
    void accumulate(float[] array, int at, ByteBuffer in, int count, int divisor);

    /** As {@link #accumulate(float[], int, ByteBuffer, int, int)} for doubles. */
    void accumulate(double[] array, int at, ByteBuffer in, int count, int divisor);

    /** {@code target[at + i] = arrays[0][offsets[0] + i] + arrays[1][offsets[1] + i] + ...} for i in [from, to). */
    void sum(float[] target, int at, float[][] arrays, int[] offsets, int from, int to);

    /** As {@link #sum(float[], int, float[][], int[], int, int)} for doubles. */
    void sum(double[] target, int at, double[][] arrays, int[] offsets, int from, int to);

    /** Elements {@code [from, to)} of {@code array} are divided by {@code divisor}. */
    void divide(float[] array, int from, int to, int divisor);

    /** As {@link #divide(float[], int, int, int)} for doubles. */
    void divide(double[] array, int from, int to, int divisor);

    /**
     * As {@link #accumulate(float[], int, ByteBuffer, int, int)} into the floats of {@code target}, a buffer in its own
     * byte order whose element {@code i} is at byte {@code 4 i} (a {@link FlatBuffer}'s memory): the reduction adds into
     * off-heap memory in place.
     */
    void accumulateFloats(ByteBuffer target, int at, ByteBuffer in, int count, int divisor);

    /** As {@link #accumulateFloats} for doubles, element {@code i} at byte {@code 8 i}. */
    void accumulateDoubles(ByteBuffer target, int at, ByteBuffer in, int count, int divisor);

    /** As {@link #sum(float[], int, float[][], int[], int, int)} over the floats of buffers (see {@link #accumulateFloats}). */
    void sumFloats(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to);

    /** As {@link #sumFloats} for doubles. */
    void sumDoubles(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to);

    /** As {@link #divide(float[], int, int, int)} over the floats of a buffer (see {@link #accumulateFloats}). */
    void divideFloats(ByteBuffer target, int from, int to, int divisor);

    /** As {@link #divideFloats} for doubles. */
    void divideDoubles(ByteBuffer target, int from, int to, int divisor);

    /** Decided once per JVM; the vector class is not even loaded without its module. */
    final class Chosen {
        static final SumKernel KERNEL = choose();

        private Chosen() {
        }

        private static SumKernel choose() {
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                return new ScalarSumKernel();
            }
            try {
                return new VectorSumKernel();
            } catch (LinkageError | RuntimeException e) {
                return new ScalarSumKernel();       // a platform without the API's classes: plain loops still work
            }
        }
    }
}
