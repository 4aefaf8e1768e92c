package dev.sparktune.dist;

import java.nio.ByteBuffer;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The JDK Vector API at the CPU's widest vectors, a scalar tail after them. It reduces straight out of the receive
 * buffer, with no copy into an array first, and divides in the same pass: about twice the plain loops' rate here
 * (BENCHMARKS.md). Loaded only when the JVM has the {@code jdk.incubator.vector} module ({@link SumKernel#best()}).
 */
final class VectorSumKernel implements SumKernel {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    /** The elements after the last whole vector. */
    private static final ScalarSumKernel TAIL = new ScalarSumKernel();

    @Override
    public String name() {
        return "vector (" + FLOATS.vectorBitSize() + "-bit)";
    }

    @Override
    public void accumulate(float[] array, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        int step = FLOATS.length();
        int bound = FLOATS.loopBound(count);
        int i = 0;
        if (divisor == 1) {
            for (; i < bound; i += step) {
                FloatVector received = FloatVector.fromByteBuffer(FLOATS, in, base + i * Float.BYTES, in.order());
                FloatVector.fromArray(FLOATS, array, at + i).add(received).intoArray(array, at + i);
            }
        } else {
            float d = divisor;
            for (; i < bound; i += step) {
                FloatVector received = FloatVector.fromByteBuffer(FLOATS, in, base + i * Float.BYTES, in.order());
                FloatVector.fromArray(FLOATS, array, at + i).add(received).div(d).intoArray(array, at + i);
            }
        }
        in.position(base + i * Float.BYTES);
        TAIL.accumulate(array, at + i, in, count - i, divisor);
    }

    @Override
    public void accumulate(double[] array, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        int step = DOUBLES.length();
        int bound = DOUBLES.loopBound(count);
        int i = 0;
        if (divisor == 1) {
            for (; i < bound; i += step) {
                DoubleVector received = DoubleVector.fromByteBuffer(DOUBLES, in, base + i * Double.BYTES, in.order());
                DoubleVector.fromArray(DOUBLES, array, at + i).add(received).intoArray(array, at + i);
            }
        } else {
            double d = divisor;
            for (; i < bound; i += step) {
                DoubleVector received = DoubleVector.fromByteBuffer(DOUBLES, in, base + i * Double.BYTES, in.order());
                DoubleVector.fromArray(DOUBLES, array, at + i).add(received).div(d).intoArray(array, at + i);
            }
        }
        in.position(base + i * Double.BYTES);
        TAIL.accumulate(array, at + i, in, count - i, divisor);
    }

    @Override
    public void sum(float[] target, int at, float[][] arrays, int[] offsets, int from, int to) {
        int step = FLOATS.length();
        int i = from;
        for (int bound = from + FLOATS.loopBound(to - from); i < bound; i += step) {
            FloatVector sum = FloatVector.fromArray(FLOATS, arrays[0], offsets[0] + i);
            for (int k = 1; k < arrays.length; k++) {
                sum = sum.add(FloatVector.fromArray(FLOATS, arrays[k], offsets[k] + i));
            }
            sum.intoArray(target, at + i);
        }
        TAIL.sum(target, at, arrays, offsets, i, to);
    }

    @Override
    public void sum(double[] target, int at, double[][] arrays, int[] offsets, int from, int to) {
        int step = DOUBLES.length();
        int i = from;
        for (int bound = from + DOUBLES.loopBound(to - from); i < bound; i += step) {
            DoubleVector sum = DoubleVector.fromArray(DOUBLES, arrays[0], offsets[0] + i);
            for (int k = 1; k < arrays.length; k++) {
                sum = sum.add(DoubleVector.fromArray(DOUBLES, arrays[k], offsets[k] + i));
            }
            sum.intoArray(target, at + i);
        }
        TAIL.sum(target, at, arrays, offsets, i, to);
    }

    @Override
    public void divide(float[] array, int from, int to, int divisor) {
        float d = divisor;
        int i = from;
        for (int bound = from + FLOATS.loopBound(to - from); i < bound; i += FLOATS.length()) {
            FloatVector.fromArray(FLOATS, array, i).div(d).intoArray(array, i);
        }
        TAIL.divide(array, i, to, divisor);
    }

    @Override
    public void divide(double[] array, int from, int to, int divisor) {
        double d = divisor;
        int i = from;
        for (int bound = from + DOUBLES.loopBound(to - from); i < bound; i += DOUBLES.length()) {
            DoubleVector.fromArray(DOUBLES, array, i).div(d).intoArray(array, i);
        }
        TAIL.divide(array, i, to, divisor);
    }

    @Override
    public void accumulateFloats(ByteBuffer target, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        int step = FLOATS.length();
        int bound = FLOATS.loopBound(count);
        int i = 0;
        float d = divisor;
        for (; i < bound; i += step) {
            int t = (at + i) * Float.BYTES;
            FloatVector received = FloatVector.fromByteBuffer(FLOATS, in, base + i * Float.BYTES, in.order());
            FloatVector sum = FloatVector.fromByteBuffer(FLOATS, target, t, target.order()).add(received);
            (divisor == 1 ? sum : sum.div(d)).intoByteBuffer(target, t, target.order());
        }
        in.position(base + i * Float.BYTES);
        TAIL.accumulateFloats(target, at + i, in, count - i, divisor);
    }

    @Override
    public void accumulateDoubles(ByteBuffer target, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        int step = DOUBLES.length();
        int bound = DOUBLES.loopBound(count);
        int i = 0;
        double d = divisor;
        for (; i < bound; i += step) {
            int t = (at + i) * Double.BYTES;
            DoubleVector received = DoubleVector.fromByteBuffer(DOUBLES, in, base + i * Double.BYTES, in.order());
            DoubleVector sum = DoubleVector.fromByteBuffer(DOUBLES, target, t, target.order()).add(received);
            (divisor == 1 ? sum : sum.div(d)).intoByteBuffer(target, t, target.order());
        }
        in.position(base + i * Double.BYTES);
        TAIL.accumulateDoubles(target, at + i, in, count - i, divisor);
    }

    @Override
    public void sumFloats(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to) {
        int step = FLOATS.length();
        int i = from;
        for (int bound = from + FLOATS.loopBound(to - from); i < bound; i += step) {
            FloatVector sum = FloatVector.fromByteBuffer(FLOATS, sources[0], (offsets[0] + i) * Float.BYTES, sources[0].order());
            for (int k = 1; k < sources.length; k++) {
                sum = sum.add(FloatVector.fromByteBuffer(FLOATS, sources[k], (offsets[k] + i) * Float.BYTES, sources[k].order()));
            }
            sum.intoByteBuffer(target, (at + i) * Float.BYTES, target.order());
        }
        TAIL.sumFloats(target, at, sources, offsets, i, to);
    }

    @Override
    public void sumDoubles(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to) {
        int step = DOUBLES.length();
        int i = from;
        for (int bound = from + DOUBLES.loopBound(to - from); i < bound; i += step) {
            DoubleVector sum = DoubleVector.fromByteBuffer(DOUBLES, sources[0], (offsets[0] + i) * Double.BYTES, sources[0].order());
            for (int k = 1; k < sources.length; k++) {
                sum = sum.add(DoubleVector.fromByteBuffer(DOUBLES, sources[k], (offsets[k] + i) * Double.BYTES, sources[k].order()));
            }
            sum.intoByteBuffer(target, (at + i) * Double.BYTES, target.order());
        }
        TAIL.sumDoubles(target, at, sources, offsets, i, to);
    }

    @Override
    public void divideFloats(ByteBuffer target, int from, int to, int divisor) {
        float d = divisor;
        int i = from;
        for (int bound = from + FLOATS.loopBound(to - from); i < bound; i += FLOATS.length()) {
            int t = i * Float.BYTES;
            FloatVector.fromByteBuffer(FLOATS, target, t, target.order()).div(d).intoByteBuffer(target, t, target.order());
        }
        TAIL.divideFloats(target, i, to, divisor);
    }

    @Override
    public void divideDoubles(ByteBuffer target, int from, int to, int divisor) {
        double d = divisor;
        int i = from;
        for (int bound = from + DOUBLES.loopBound(to - from); i < bound; i += DOUBLES.length()) {
            int t = i * Double.BYTES;
            DoubleVector.fromByteBuffer(DOUBLES, target, t, target.order()).div(d).intoByteBuffer(target, t, target.order());
        }
        TAIL.divideDoubles(target, i, to, divisor);
    }
}
