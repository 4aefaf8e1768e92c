package dev.sparktune.dist;

import java.nio.ByteBuffer;

/** A region of a float[]. */
record FloatRegion(float[] array, int offset, int length) implements Region {
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[0]);

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
        for (int i = from; i < to; i++) {
            float sum = arrays[0][offsets[0] + i];
            for (int k = 1; k < arrays.length; k++) {
                sum += arrays[k][offsets[k] + i];
            }
            array[offset + i] = sum;
        }
    }

    @Override
    public void divide(int from, int to, int n) {
        float d = n;
        for (int i = offset + from; i < offset + to; i++) {
            array[i] /= d;
        }
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
    public void accumulate(ByteBuffer in, int from, int count) {
        // a bulk copy out of the buffer, then a plain loop the JIT vectorises
        float[] received = SCRATCH.get();
        if (received.length < count) {
            received = new float[count];
            SCRATCH.set(received);
        }
        in.asFloatBuffer().get(received, 0, count);
        in.position(in.position() + count * Float.BYTES);
        int at = offset + from;
        for (int i = 0; i < count; i++) {
            array[at + i] += received[i];
        }
    }

    @Override
    public void writeBf16(ByteBuffer out, int from, int count) {
        short[] halves = halves(count);
        for (int i = 0; i < count; i++) {
            halves[i] = Bfloat16.fromFloat(array[offset + from + i]);
        }
        out.asShortBuffer().put(halves, 0, count);
        out.position(out.position() + 2 * count);
    }

    @Override
    public void readBf16(ByteBuffer in, int from, int count) {
        short[] halves = halves(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            array[offset + from + i] = Bfloat16.toFloat(halves[i]);
        }
    }

    @Override
    public void accumulateBf16(ByteBuffer in, int from, int count) {
        short[] halves = halves(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            array[offset + from + i] += Bfloat16.toFloat(halves[i]);
        }
    }

    private static short[] halves(int count) {
        short[] halves = HALVES.get();
        if (halves.length < count) {
            halves = new short[count];
            HALVES.set(halves);
        }
        return halves;
    }

    @Override
    public void roundToBf16(int from, int to) {
        for (int i = offset + from; i < offset + to; i++) {
            array[i] = Bfloat16.toFloat(Bfloat16.fromFloat(array[i]));
        }
    }
}
