package dev.sparktune.dist;

import java.nio.ByteBuffer;

/** Plain loops, for JVMs without the Vector API module; over arrays the JIT vectorises them itself. */
final class ScalarSumKernel implements SumKernel {

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
}
