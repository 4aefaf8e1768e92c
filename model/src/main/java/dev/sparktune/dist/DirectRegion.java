package dev.sparktune.dist;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A region of a {@link FlatBuffer}'s off-heap memory: {@code elementBytes} 4 (floats) or 8 (doubles), element i of the
 * buffer at byte {@code elementBytes * i}, in the buffer's (native) byte order. Where that order is the wire's
 * little-endian one, the ring sends straight out of this memory and receives gathered elements straight into it.
 */
record DirectRegion(ByteBuffer memory, int elementBytes, int offset, int length) implements Region {

    private boolean floats() {
        return elementBytes == Float.BYTES;
    }

    @Override
    public String type() {
        return floats() ? "float" : "double";
    }

    @Override
    public void sumOf(Region[] sources, int from, int to) {
        ByteBuffer[] memories = new ByteBuffer[sources.length];
        int[] offsets = new int[sources.length];
        for (int k = 0; k < sources.length; k++) {
            if (!(sources[k] instanceof DirectRegion s)) {
                throw new IllegalArgumentException("ranks mixed Java arrays and off-heap buffers in one reduction; every rank"
                        + " must pass the same kind");
            }
            memories[k] = s.memory;
            offsets[k] = s.offset;
        }
        if (floats()) {
            SumKernel.best().sumFloats(memory, offset, memories, offsets, from, to);
        } else {
            SumKernel.best().sumDoubles(memory, offset, memories, offsets, from, to);
        }
    }

    @Override
    public void divide(int from, int to, int n) {
        if (floats()) {
            SumKernel.best().divideFloats(memory, offset + from, offset + to, n);
        } else {
            SumKernel.best().divideDoubles(memory, offset + from, offset + to, n);
        }
    }

    @Override
    public void copyFrom(Region source, int from, int to) {
        if (!(source instanceof DirectRegion s)) {
            throw new IllegalArgumentException("ranks mixed Java arrays and off-heap buffers in one collective; every rank"
                    + " must pass the same kind");
        }
        memory.put(bytePosition(from), s.memory, s.bytePosition(from), (to - from) * elementBytes);
    }

    @Override
    public ByteBuffer wireView(int from, int count) {
        return memory.order() == ByteOrder.LITTLE_ENDIAN
                ? memory.slice(bytePosition(from), count * elementBytes).order(ByteOrder.LITTLE_ENDIAN)
                : null;
    }

    @Override
    public void write(ByteBuffer out, int from, int count) {
        if (floats()) {
            out.asFloatBuffer().put(memory.slice(bytePosition(from), count * elementBytes).order(memory.order()).asFloatBuffer());
        } else {
            out.asDoubleBuffer().put(memory.slice(bytePosition(from), count * elementBytes).order(memory.order()).asDoubleBuffer());
        }
        out.position(out.position() + count * elementBytes);
    }

    @Override
    public void read(ByteBuffer in, int from, int count) {
        ByteBuffer target = memory.slice(bytePosition(from), count * elementBytes).order(memory.order());
        if (floats()) {
            target.asFloatBuffer().put(in.slice().order(in.order()).asFloatBuffer().limit(count));
        } else {
            target.asDoubleBuffer().put(in.slice().order(in.order()).asDoubleBuffer().limit(count));
        }
        in.position(in.position() + count * elementBytes);
    }

    @Override
    public void accumulate(ByteBuffer in, int from, int count, int divisor) {
        if (floats()) {
            SumKernel.best().accumulateFloats(memory, offset + from, in, count, divisor);
        } else {
            SumKernel.best().accumulateDoubles(memory, offset + from, in, count, divisor);
        }
    }

    @Override
    public void writeBf16(ByteBuffer out, int from, int count) {
        requireFloats();
        short[] halves = Bfloat16.scratch(count);
        for (int i = 0; i < count; i++) {
            halves[i] = Bfloat16.fromFloat(memory.getFloat(bytePosition(from + i)));
        }
        out.asShortBuffer().put(halves, 0, count);
        out.position(out.position() + 2 * count);
    }

    @Override
    public void readBf16(ByteBuffer in, int from, int count) {
        requireFloats();
        short[] halves = Bfloat16.scratch(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            memory.putFloat(bytePosition(from + i), Bfloat16.toFloat(halves[i]));
        }
    }

    @Override
    public void accumulateBf16(ByteBuffer in, int from, int count) {
        requireFloats();
        short[] halves = Bfloat16.scratch(count);
        in.asShortBuffer().get(halves, 0, count);
        in.position(in.position() + 2 * count);
        for (int i = 0; i < count; i++) {
            int at = bytePosition(from + i);
            memory.putFloat(at, memory.getFloat(at) + Bfloat16.toFloat(halves[i]));
        }
    }

    @Override
    public void roundToBf16(int from, int to) {
        requireFloats();
        for (int i = from; i < to; i++) {
            int at = bytePosition(i);
            memory.putFloat(at, Bfloat16.toFloat(Bfloat16.fromFloat(memory.getFloat(at))));
        }
    }

    /** The byte where element {@code i} of the region starts. */
    private int bytePosition(int i) {
        return (offset + i) * elementBytes;
    }

    private void requireFloats() {
        if (!floats()) {
            throw new UnsupportedOperationException("bfloat16 wire compression applies to float buffers only");
        }
    }
}
