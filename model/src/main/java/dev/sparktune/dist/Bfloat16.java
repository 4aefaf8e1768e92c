package dev.sparktune.dist;

/**
 * bfloat16, the upper half of an IEEE float32 (8 exponent bits, 7 stored significand bits), as gradients travel
 * when wire compression is on. Rounding is to nearest, ties to even, as PyTorch's {@code float -> bfloat16}
 * conversion; NaN stays NaN.
 */
final class Bfloat16 {
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[0]);

    private Bfloat16() {
    }

    static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        int rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
        return (short) (value != value ? (bits >>> 16) | 0x0040 : rounded);   // NaN stays a (quiet) NaN
    }

    static float toFloat(short value) {
        return Float.intBitsToFloat((value & 0xffff) << 16);
    }

    /** This thread's scratch array for at least {@code count} bfloat16 values on their way to or from the wire. */
    static short[] scratch(int count) {
        short[] halves = HALVES.get();
        if (halves.length < count) {
            halves = new short[count];
            HALVES.set(halves);
        }
        return halves;
    }
}
