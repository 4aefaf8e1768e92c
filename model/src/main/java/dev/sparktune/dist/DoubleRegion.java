package dev.sparktune.dist;

import java.nio.ByteBuffer;

/** A region of a double[]. */
record DoubleRegion(double[] array, int offset, int length) implements Region {
    private static final ThreadLocal<double[]> SCRATCH = ThreadLocal.withInitial(() -> new double[0]);

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
        for (int i = from; i < to; i++) {
            double sum = arrays[0][offsets[0] + i];
            for (int k = 1; k < arrays.length; k++) {
                sum += arrays[k][offsets[k] + i];
            }
            array[offset + i] = sum;
        }
    }

    @Override
    public void divide(int from, int to, int n) {
        double d = n;
        for (int i = offset + from; i < offset + to; i++) {
            array[i] /= d;
        }
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
    public void accumulate(ByteBuffer in, int from, int count) {
        // a bulk copy out of the buffer, then a plain loop the JIT vectorises
        double[] received = SCRATCH.get();
        if (received.length < count) {
            received = new double[count];
            SCRATCH.set(received);
        }
        in.asDoubleBuffer().get(received, 0, count);
        in.position(in.position() + count * Double.BYTES);
        int at = offset + from;
        for (int i = 0; i < count; i++) {
            array[at + i] += received[i];
        }
    }
}
