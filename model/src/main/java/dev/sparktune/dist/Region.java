package dev.sparktune.dist;

import java.nio.ByteBuffer;

/**
 * The elements one collective call works on: {@code array[offset, offset + length)} of a float[] or a double[], or of
 * a {@link FlatBuffer}'s off-heap memory.
 * Indices below are relative to the region. Reductions add ranks' values in the order the caller gives them, so
 * that the same inputs always give the same bits.
 */
sealed interface Region permits FloatRegion, DoubleRegion, DirectRegion {

    static Region of(float[] array, int offset, int length) {
        return new FloatRegion(array, check(array.length, offset, length), length);
    }

    static Region of(double[] array, int offset, int length) {
        return new DoubleRegion(array, check(array.length, offset, length), length);
    }

    static Region of(FlatBuffer buffer, int offset, int length) {
        return new DirectRegion(buffer.memory(), buffer.elementBytes(), check(buffer.length(), offset, length), length);
    }

    private static int check(int arrayLength, int offset, int length) {
        if (offset < 0 || length < 0 || offset > arrayLength - length) {
            throw new IndexOutOfBoundsException("region [" + offset + ", " + offset + " + " + length
                    + ") lies outside an array of " + arrayLength + " elements");
        }
        return offset;
    }

    int length();

    /** "float" or "double". */
    String type();

    int elementBytes();

    /** Elements [from, to) become the sum over {@code sources} in their order (this region may be one of them). */
    void sumOf(Region[] sources, int from, int to);

    /** Elements [from, to) are divided by {@code n}. */
    void divide(int from, int to, int n);

    /** Elements [from, to) become {@code source}'s. */
    void copyFrom(Region source, int from, int to);

    /**
     * Elements [from, from + count) as the bytes the wire carries (little-endian), a view of the region's own memory
     * with nothing copied; null where there is no such view (a Java array, or memory in the other byte order), and the
     * elements go through {@link #write} and {@link #read} instead.
     */
    default ByteBuffer wireView(int from, int count) {
        return null;
    }

    /** Writes elements [from, from + count) at {@code out}'s position, in the buffer's byte order. */
    void write(ByteBuffer out, int from, int count);

    /** Elements [from, from + count) become the values at {@code in}'s position. */
    void read(ByteBuffer in, int from, int count);

    /**
     * Adds the values at {@code in}'s position to elements [from, from + count), then divides those elements by
     * {@code divisor} unless it is 1, in one pass straight out of the buffer.
     */
    void accumulate(ByteBuffer in, int from, int count, int divisor);

    /** As {@link #write}, each value rounded to bfloat16 (2 bytes). Float regions only. */
    default void writeBf16(ByteBuffer out, int from, int count) {
        throw new UnsupportedOperationException("bfloat16 wire compression applies to float buffers only");
    }

    /** As {@link #read}, from bfloat16 values. Float regions only. */
    default void readBf16(ByteBuffer in, int from, int count) {
        throw new UnsupportedOperationException("bfloat16 wire compression applies to float buffers only");
    }

    /** As {@link #accumulate}, from bfloat16 values. Float regions only. */
    default void accumulateBf16(ByteBuffer in, int from, int count) {
        throw new UnsupportedOperationException("bfloat16 wire compression applies to float buffers only");
    }

    /** Rounds elements [from, to) to the nearest bfloat16, as {@link #writeBf16} would send them. Float regions only. */
    default void roundToBf16(int from, int to) {
        throw new UnsupportedOperationException("bfloat16 wire compression applies to float buffers only");
    }
}
