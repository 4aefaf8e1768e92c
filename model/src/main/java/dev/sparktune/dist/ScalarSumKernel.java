package dev.sparktune.dist;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/** Plain loops, for JVMs without the Vector API module; over arrays the JIT vectorises them itself. */
final class ScalarSumKernel implements SumKernel {
    /** Elements the off-heap accumulations stage at a time (16 KiB of floats). */
    private static final int STAGE = 4096;
    private static final ThreadLocal<float[]> FLOAT_STAGE = ThreadLocal.withInitial(() -> new float[STAGE]);
    private static final ThreadLocal<double[]> DOUBLE_STAGE = ThreadLocal.withInitial(() -> new double[STAGE]);

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void accumulate(float[] array, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        if (divisor == 1) {
            for (int i = 0; i < count; i++) {
                array[at + i] += in.getFloat(base + i * Float.BYTES);
            }
        } else {
            float d = divisor;
            for (int i = 0; i < count; i++) {
                array[at + i] = (array[at + i] + in.getFloat(base + i * Float.BYTES)) / d;
            }
        }
        in.position(base + count * Float.BYTES);
    }

    @Override
    public void accumulate(double[] array, int at, ByteBuffer in, int count, int divisor) {
        int base = in.position();
        if (divisor == 1) {
            for (int i = 0; i < count; i++) {
                array[at + i] += in.getDouble(base + i * Double.BYTES);
            }
        } else {
            double d = divisor;
            for (int i = 0; i < count; i++) {
                array[at + i] = (array[at + i] + in.getDouble(base + i * Double.BYTES)) / d;
            }
        }
        in.position(base + count * Double.BYTES);
    }

    @Override
    public void sum(float[] target, int at, float[][] arrays, int[] offsets, int from, int to) {
        for (int i = from; i < to; i++) {
            float sum = arrays[0][offsets[0] + i];
            for (int k = 1; k < arrays.length; k++) {
                sum += arrays[k][offsets[k] + i];
            }
            target[at + i] = sum;
        }
    }

    @Override
    public void sum(double[] target, int at, double[][] arrays, int[] offsets, int from, int to) {
        for (int i = from; i < to; i++) {
            double sum = arrays[0][offsets[0] + i];
            for (int k = 1; k < arrays.length; k++) {
                sum += arrays[k][offsets[k] + i];
            }
            target[at + i] = sum;
        }
    }

    @Override
    public void divide(float[] array, int from, int to, int divisor) {
        float d = divisor;
        for (int i = from; i < to; i++) {
            array[i] /= d;
        }
    }

    @Override
    public void divide(double[] array, int from, int to, int divisor) {
        double d = divisor;
        for (int i = from; i < to; i++) {
            array[i] /= d;
        }
    }

    /**
     * Plain loops straight over a direct buffer's elements compiled unreliably here (some runs at a third of the rate),
     * so the off-heap accumulations stage cache-sized pieces through a small array and run the array loops above: two
     * bulk copies within the cache per piece, the same arithmetic, and the array loops' rate every time.
     */
    @Override
    public void accumulateFloats(ByteBuffer target, int at, ByteBuffer in, int count, int divisor) {
        float[] stage = FLOAT_STAGE.get();
        FloatBuffer elements = target.duplicate().order(target.order()).clear().asFloatBuffer();
        for (int done = 0; done < count; done += STAGE) {
            int n = Math.min(STAGE, count - done);
            elements.get(at + done, stage, 0, n);
            accumulate(stage, 0, in, n, divisor);
            elements.put(at + done, stage, 0, n);
        }
    }

    @Override
    public void accumulateDoubles(ByteBuffer target, int at, ByteBuffer in, int count, int divisor) {
        double[] stage = DOUBLE_STAGE.get();
        DoubleBuffer elements = target.duplicate().order(target.order()).clear().asDoubleBuffer();
        for (int done = 0; done < count; done += STAGE) {
            int n = Math.min(STAGE, count - done);
            elements.get(at + done, stage, 0, n);
            accumulate(stage, 0, in, n, divisor);
            elements.put(at + done, stage, 0, n);
        }
    }

    @Override
    public void sumFloats(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to) {
        for (int i = from; i < to; i++) {
            float sum = sources[0].getFloat((offsets[0] + i) * Float.BYTES);
            for (int k = 1; k < sources.length; k++) {
                sum += sources[k].getFloat((offsets[k] + i) * Float.BYTES);
            }
            target.putFloat((at + i) * Float.BYTES, sum);
        }
    }

    @Override
    public void sumDoubles(ByteBuffer target, int at, ByteBuffer[] sources, int[] offsets, int from, int to) {
        for (int i = from; i < to; i++) {
            double sum = sources[0].getDouble((offsets[0] + i) * Double.BYTES);
            for (int k = 1; k < sources.length; k++) {
                sum += sources[k].getDouble((offsets[k] + i) * Double.BYTES);
            }
            target.putDouble((at + i) * Double.BYTES, sum);
        }
    }

    @Override
    public void divideFloats(ByteBuffer target, int from, int to, int divisor) {
        float d = divisor;
        for (int i = from; i < to; i++) {
            target.putFloat(i * Float.BYTES, target.getFloat(i * Float.BYTES) / d);
        }
    }

    @Override
    public void divideDoubles(ByteBuffer target, int from, int to, int divisor) {
        double d = divisor;
        for (int i = from; i < to; i++) {
            target.putDouble(i * Double.BYTES, target.getDouble(i * Double.BYTES) / d);
        }
    }
}
