package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Bfloat16Test {

    @Test
    void roundsToNearestWithTiesToEven() {
        assertEquals(0x3f80, bits(1f));
        assertEquals(0xbf80, bits(-1f));
        // 1 + 2^-8 lies halfway between 1 (0x3f80) and 1 + 2^-7 (0x3f81): the even one wins
        assertEquals(0x3f80, bits(1f + 0x1p-8f));
        // 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: the even one wins
        assertEquals(0x3f82, bits(1f + 3 * 0x1p-8f));
        // just above halfway rounds up
        assertEquals(0x3f81, bits(1f + 0x1p-8f + 0x1p-20f));
        assertEquals(3.140625f, Bfloat16.toFloat(Bfloat16.fromFloat((float) Math.PI)));
    }

    @Test
    void keepsSpecialValues() {
        assertTrue(Float.isNaN(Bfloat16.toFloat(Bfloat16.fromFloat(Float.NaN))));
        assertTrue(Float.isNaN(Bfloat16.toFloat(Bfloat16.fromFloat(Float.intBitsToFloat(0x7f800001)))), "a NaN with low payload");
        assertEquals(Float.POSITIVE_INFINITY, Bfloat16.toFloat(Bfloat16.fromFloat(Float.POSITIVE_INFINITY)));
        assertEquals(0x8000, bits(-0f));
        assertEquals(Float.POSITIVE_INFINITY, Bfloat16.toFloat(Bfloat16.fromFloat(Float.MAX_VALUE)), "overflows as PyTorch does");
    }

    private static int bits(float value) {
        return Bfloat16.fromFloat(value) & 0xffff;
    }
}
