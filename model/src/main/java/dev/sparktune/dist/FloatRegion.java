package dev.sparktune.dist;

import java.nio.ByteBuffer;

/** A region of a float[]. */
record FloatRegion(float[] array, int offset, int length) implements Region {

    @Override
    public String type() {
        return "float";
    }

    @Override
    public int elementBytes() {
        return Float.BYTES;
    }

    @Override
    public void sumOf(Region[] sources, int from, int to) {
        float[][] arrays = new float[sources.length][];
        int[] offsets = new int[sources.length];
        for (int k = 0; k < sources.length; k++) {
            FloatRegion s = (FloatRegion) sources[k];
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
        FloatRegion s = (FloatRegion) source;
        System.arraycopy(s.array, s.offset + from, array, offset + from, to - from);
    }

    @Override
    public void write(ByteBuffer out, int from, int count) {
        out.asFloatBuffer().put(array, offset + from, count);
        out.position(out.position() + count * Float.BYTES);
    }

    @Override
    public void read(ByteBuffer in, int from, int count) {
        in.asFloatBuffer().get(array, offset + from, count);
        in.position(in.position() + count * Float.BYTES);
    }

    @Override
    public void accumulate(ByteBuffer in, int from, int count, int divisor) {
        SumKernel.best().accumulate(array, offset + from, in, count, divisor);
    }

    @Override
    public void writeBf16(ByteBuffer out, int from, int count) {
        short[] halves = Bfloat16.scratch(count);
        for (int i = 0; i < count; i++) {
            halves[i] = Bfloat16.fromFloat(array[offset + from + i]);
        }
        out.asShortBuffer().put(halves, 0, count);
        out.position(out.position() + 2 * count);
    }

    @Override
    public void readBf16(ByteBuffer in, int from, int count) {
        short[] halves = Bfloat16.scratch(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            array[offset + from + i] = Bfloat16.toFloat(halves[i]);
        }
    }

    @Override
    public void accumulateBf16(ByteBuffer in, int from, int count) {
        short[] halves = Bfloat16.scratch(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            array[offset + from + i] += Bfloat16.toFloat(halves[i]);
        }
    }

    @Override
    public void roundToBf16(int from, int to) {
        for (int i = offset + from; i < offset + to; i++) {
            array[i] = Bfloat16.toFloat(Bfloat16.fromFloat(array[i]));
        }
    }
}
