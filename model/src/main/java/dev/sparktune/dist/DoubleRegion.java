package dev.sparktune.dist;

import java.nio.ByteBuffer;

/** A region of a double[]. */
record DoubleRegion(double[] array, int offset, int length) implements Region {

    @Override
    public String type() {
        return "double";
    }

    @Override
    public int elementBytes() {
        return Double.BYTES;
    }

    @Override
    public void sumOf(Region[] sources, int from, int to) {
        double[][] arrays = new double[sources.length][];
        int[] offsets = new int[sources.length];
        for (int k = 0; k < sources.length; k++) {
            DoubleRegion s = (DoubleRegion) sources[k];
            arrays[k] = s.array;
            offsets[k] = s.offset;
        }
        SumKernel.best().sum(array, offset, arrays, offsets, from, to);
    }

    @Override
    public void divide(int from, int to, int n) {
        SumKernel.best().divide(array, offset + from, offset + to, n);
    }

    @Override
    public void copyFrom(Region source, int from, int to) {
        DoubleRegion s = (DoubleRegion) source;
        System.arraycopy(s.array, s.offset + from, array, offset + from, to - from);
    }

    @Override
    public void write(ByteBuffer out, int from, int count) {
        out.asDoubleBuffer().put(array, offset + from, count);
        out.position(out.position() + count * Double.BYTES);
    }

    @Override
    public void read(ByteBuffer in, int from, int count) {
        in.asDoubleBuffer().get(array, offset + from, count);
        in.position(in.position() + count * Double.BYTES);
    }

    @Override
    public void accumulate(ByteBuffer in, int from, int count, int divisor) {
        SumKernel.best().accumulate(array, offset + from, in, count, divisor);
    }
}
