package dev.sparktune.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The three packed formats against straightforward references written here: int8's per-row bound, NF4's codes and
 * block scales from a double-precision nearest-level search, and bfloat16's widening from Java's own float bits.
 */
class PackedFormatsTest {
    /** bitsandbytes' NF4 table (functional.py, get_4bit_type("nf4")), as the QLoRA paper's appendix lists it. */
    private static final double[] PUBLISHED_NF4 = {-1.0, -0.6961928009986877, -0.5250730514526367,
        -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434,
        0.5626170039176941, 0.7229568362236023, 1.0};

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void int8IsWithinHalfAStepOfEachRowAndUnpacksToCodeTimesScale() {
        Shape shape = new Shape(7, 45);
        float[] w = gaussian(shape, 1);
        w[3] = 0;
        for (int i = 45; i < 90; i++) {
            w[i] = 0;    // an all-zero row: scale 0, nothing divided by it
        }
        Int8Rows packed = Int8Rows.of(manager.create(w, shape));
        float[] scales = packed.scales();
        byte[] q = packed.values();
        float[] unpacked = packed.unpack(manager, DataType.FLOAT32).toFloatArray();
        for (int r = 0; r < 7; r++) {
            double max = 0;
            for (int c = 0; c < 45; c++) {
                max = Math.max(max, Math.abs(w[r * 45 + c]));
            }
            assertEquals(max / 127, scales[r], 1e-6 * max, "scale of row " + r);
            for (int c = 0; c < 45; c++) {
                int i = r * 45 + c;
                assertTrue(Math.abs(w[i] - unpacked[i]) <= scales[r] / 2 * (1 + 1e-6), "element " + i);
                assertEquals((float) (q[i] * scales[r]), unpacked[i], 0f);
            }
        }
        assertEquals(7 * 45 + 4 * 7, packed.bytes());
    }

    @Test
    void theDerivedNf4LevelsAreQLorasTable() {
        float[] levels = NormalFloat4.levels();
        for (int i = 0; i < 16; i++) {
            assertEquals(PUBLISHED_NF4[i], levels[i], 1e-6, "level " + i);
        }
        // the quantile the derivation rests on: Phi^-1(0.975) = 1.959963984540054
        assertEquals(1.959963984540054, NormalFloat4.inverseNormalCdf(0.975), 1e-12);
    }

    @Test
    void nf4CodesAndBlockScalesAreTheNearestLevelsOfADoublePrecisionReference() {
        Shape shape = new Shape(5, 29);   // 145 weights: two full blocks and a padded one
        float[] w = gaussian(shape, 2);
        for (int i = 64; i < 128; i++) {
            w[i] = 0;                     // an all-zero block
        }
        Nf4Blocks packed = Nf4Blocks.of(manager.create(w, shape));
        byte[] bytes = packed.packedCodes();
        float[] scales = packed.blockScales();
        assertEquals(3 * 32, bytes.length);
        assertEquals(3, scales.length);
        float[] unpacked = packed.unpack(manager, DataType.FLOAT32).toFloatArray();
        int ambiguous = 0;
        for (int block = 0; block < 3; block++) {
            double absmax = 0;
            for (int i = block * 64; i < Math.min(w.length, block * 64 + 64); i++) {
                absmax = Math.max(absmax, Math.abs(w[i]));
            }
            assertEquals(absmax, scales[block], 0.0, "block " + block);
            for (int i = block * 64; i < block * 64 + 64; i++) {
                double x = i < w.length && absmax > 0 ? w[i] / absmax : 0;
                int nearest = 0;
                for (int l = 1; l < 16; l++) {
                    if (Math.abs(x - PUBLISHED_NF4[l]) < Math.abs(x - PUBLISHED_NF4[nearest])) {
                        nearest = l;
                    }
                }
                int b = bytes[i / 2] & 0xff;
                int code = i % 2 == 0 ? b >> 4 : b & 15;
                if (code != nearest) {
                    // only a value on (within float rounding of) a midpoint may go either way
                    double gap = Math.abs(Math.abs(x - PUBLISHED_NF4[code]) - Math.abs(x - PUBLISHED_NF4[nearest]));
                    assertTrue(gap < 1e-6, "weight " + i + ": code " + code + ", nearest level " + nearest);
                    ambiguous++;
                }
                if (i < w.length) {
                    assertEquals(NormalFloat4.LEVELS[code] * (float) absmax, unpacked[i], 0f, "weight " + i);
                }
            }
        }
        assertTrue(ambiguous <= 1, ambiguous + " codes on a midpoint");
        assertEquals(145, unpacked.length);
    }

    @Test
    void bf16WidensExactlyAsJavasFloatBits() {
        Random random = new Random(3);
        int count = 1001;                 // odd: the last int32 holds one weight
        short[] halves = new short[count];
        for (int i = 0; i < count; i++) {
            halves[i] = (short) random.nextInt(1 << 16);
        }
        short[] special = {0, (short) 0x8000, 0x7f80, (short) 0xff80, 0x0001, (short) 0x8001, 0x7f7f, (short) 0xffff};
        System.arraycopy(special, 0, halves, 0, special.length);
        float[] expected = new float[count];
        for (int i = 0; i < count; i++) {
            expected[i] = Float.intBitsToFloat((halves[i] & 0xffff) << 16);
        }
        // the packer rounds a float to bfloat16; a bfloat16 number must come back as itself
        Bf16Bits packed = Bf16Bits.of(manager.create(expected, new Shape(7, 143)));
        float[] widened = packed.unpack(manager, DataType.FLOAT32).toFloatArray();
        for (int i = 0; i < count; i++) {
            if (Float.isNaN(expected[i])) {
                assertTrue(Float.isNaN(widened[i]), "element " + i);
            } else {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(widened[i]), "element " + i);
            }
        }
        assertEquals(2L * 501 * 2, packed.bytes());
    }

    @Test
    void bf16RoundsFloatsToNearestEven() {
        float[] values = {1 + 0x1p-8f, 1 + 0x3p-8f, 1 + 0x1p-8f + 0x1p-20f, -3.14159f};
        float[] expected = {1f, 1 + 0x1p-6f, 1 + 0x1p-7f, -3.140625f};
        NDArray unpacked = Bf16Bits.of(manager.create(values)).unpack(manager, DataType.FLOAT32);
        assertArrayEquals(expected, unpacked.toFloatArray());
    }

    private static float[] gaussian(Shape shape, long seed) {
        Random random = new Random(seed);
        float[] out = new float[(int) shape.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) random.nextGaussian();
        }
        return out;
    }
}
