package dev.sparktune.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The off-heap flat buffer against plain Java arrays: tensors of several shapes in and out at offsets, a view that
 * is the buffer's memory and a copy back into a tensor that is not, tensors that are not contiguous, and a slice of
 * the buffer all-reduced over the TCP ring.
 */
@ExtendWith(NoLeaks.class)
class FlatBufferTest {
    private static final Shape[] SHAPES = {new Shape(), new Shape(1), new Shape(7), new Shape(3, 5), new Shape(2, 3, 4),
        new Shape(0, 4), new Shape(16, 33)};
    private static final int LEAD = 3;
    private static final float SENTINEL = -7.25f;

    @BeforeAll
    static void loadTheEngine() {
        // the engine's first use starts a JNA thread for good; not a leak of the tests below
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.zeros(new Shape(1)).toByteBuffer(true);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT32", "FLOAT64"})
    void tensorsOfSeveralShapesGoInAndOutAtTheirOffsets(DataType type) {
        Random random = new Random(type.ordinal());
        try (NDManager manager = NDManager.newBaseManager()) {
            List<double[]> values = new ArrayList<>();
            List<NDArray> tensors = new ArrayList<>();
            int length = LEAD;
            for (Shape shape : SHAPES) {
                double[] v = random.doubles(shape.size(), -100, 100).map(x -> (float) x).toArray();
                values.add(v);
                tensors.add(manager.create(v, shape).toType(type, false));
                length += v.length;
            }
            FlatBuffer buffer = FlatBuffer.of(type, length + 2);
            double[] expected = new double[length + 2];
            Arrays.fill(expected, SENTINEL);
            for (int i = 0; i < buffer.length(); i++) {
                put(buffer, i, SENTINEL);
            }
            int offset = LEAD;
            for (int k = 0; k < SHAPES.length; k++) {
                buffer.read(tensors.get(k), offset);
                System.arraycopy(values.get(k), 0, expected, offset, values.get(k).length);
                offset += values.get(k).length;
            }
            assertArrayEquals(expected, contents(buffer), "every tensor at its offset, the margins untouched");

            offset = LEAD;
            for (int k = 0; k < SHAPES.length; k++) {
                Shape shape = SHAPES[k];
                int end = offset + values.get(k).length;
                try (NDArray copy = buffer.copy(manager, offset, end, shape);
                     NDArray target = manager.zeros(shape, type)) {
                    assertEquals(shape, copy.getShape());
                    assertEquals(type, copy.getDataType());
                    assertArrayEquals(values.get(k), copy.toType(DataType.FLOAT64, false).toDoubleArray(), shape.toString());
                    try (NDManager scratch = manager.newSubManager()) {
                        buffer.writeInto(target, offset, scratch);
                    }
                    assertArrayEquals(values.get(k), target.toType(DataType.FLOAT64, false).toDoubleArray(), shape.toString());
                }
                offset = end;
            }
        }
    }

    @Test
    void aViewIsTheBuffersMemoryAndWriteIntoLeavesNoAliasBehind() {
        try (NDManager manager = NDManager.newBaseManager()) {
            FlatBuffer buffer = CollectiveContractTest.offHeap(new float[] {1, 2, 3, 4, 5, 6, 7});
            NDArray view = buffer.view(manager, 1, 7, new Shape(2, 3));
            assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, view.toFloatArray());
            buffer.asFloatBuffer().put(2, 30);
            assertEquals(30f, view.getFloat(0, 1), "a write to the buffer shows in the view");
            view.muli(2);
            assertArrayEquals(new float[] {1, 4, 60, 8, 10, 12, 14}, CollectiveContractTest.floats(buffer),
                    "a write to the view lands in the buffer");
            view.close();
            assertArrayEquals(new float[] {1, 4, 60, 8, 10, 12, 14}, CollectiveContractTest.floats(buffer),
                    "closing the view leaves the memory alone");

            NDArray param = manager.zeros(new Shape(3), DataType.FLOAT32);
            try (NDManager scratch = manager.newSubManager()) {
                buffer.writeInto(param, 4, scratch);
            }
            buffer.asFloatBuffer().put(4, -1);
            assertArrayEquals(new float[] {10, 12, 14}, param.toFloatArray(), "the tensor holds a copy, not the buffer");
            param.addi(1);
            assertEquals(-1f, buffer.asFloatBuffer().get(4));
        }
    }

    @Test
    void tensorsThatAreNotContiguousGoInInTheirLogicalOrderAndAreWrittenInPlace() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray base = manager.arange(12f).reshape(3, 4);
            NDArray transposed = base.transpose();              // [4, 3], element (i, j) = 4 j + i
            float[] logical = new float[12];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 3; j++) {
                    logical[3 * i + j] = 4 * j + i;
                }
            }
            FlatBuffer buffer = FlatBuffer.of(DataType.FLOAT32, 14);
            try (NDManager scratch = manager.newSubManager()) {
                transposed.tempAttach(scratch);
                buffer.read(transposed, 2);
            }
            float[] expected = new float[14];
            System.arraycopy(logical, 0, expected, 2, 12);
            assertArrayEquals(expected, CollectiveContractTest.floats(buffer));

            NDArray target = manager.zeros(new Shape(3, 4));
            NDArray targetView = target.transpose();
            try (NDManager scratch = manager.newSubManager()) {
                buffer.writeInto(targetView, 2, scratch);
            }
            assertArrayEquals(manager.arange(12f).toFloatArray(), target.toFloatArray(),
                    "the write went through the transposed view into the tensor under it");
        }
    }

    @Test
    void aSliceOfTheBufferIsSentAndReducedOverTheRingInPlace() {
        int n = 2;
        Shape[] shapes = {new Shape(5, 7), new Shape(1000), new Shape(3, 3, 3)};
        int lead = 5;
        List<Collective> ring = LoopbackRing.open(n, LoopbackRing.options(Duration.ofSeconds(60)));
        List<float[][]> results;
        try {
            results = RankThreads.all(ring, c -> {
                try (NDManager manager = NDManager.newBaseManager()) {
                    int length = 0;
                    for (Shape s : shapes) {
                        length += (int) s.size();
                    }
                    FlatBuffer buffer = FlatBuffer.of(DataType.FLOAT32, lead + length + 1);
                    for (int i = 0; i < buffer.length(); i++) {
                        put(buffer, i, SENTINEL);
                    }
                    List<NDArray> tensors = new ArrayList<>();
                    int offset = lead;
                    for (Shape s : shapes) {
                        // small integers: every sum is exact, so the reference below is too
                        NDArray t = manager.arange(0f, (float) s.size()).muli(c.rank() + 1).reshape(s);
                        buffer.read(t, offset);
                        tensors.add(t);
                        offset += (int) s.size();
                    }
                    c.allReduce(buffer, lead, length, Reduction.SUM);
                    offset = lead;
                    float[][] out = new float[shapes.length + 1][];
                    for (int k = 0; k < shapes.length; k++) {
                        try (NDManager scratch = manager.newSubManager()) {
                            buffer.writeInto(tensors.get(k), offset, scratch);
                        }
                        out[k] = tensors.get(k).toFloatArray();
                        offset += (int) shapes[k].size();
                    }
                    out[shapes.length] = CollectiveContractTest.floats(buffer);
                    return out;
                }
            });
        } finally {
            ring.forEach(Collective::close);
        }
        float factor = n * (n + 1) / 2f;
        for (float[][] mine : results) {
            int offset = lead;
            for (int k = 0; k < shapes.length; k++) {
                float[] expected = new float[(int) shapes[k].size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = i * factor;
                }
                assertArrayEquals(expected, mine[k], "tensor " + shapes[k]);
                offset += expected.length;
            }
            float[] all = mine[shapes.length];
            for (int i = 0; i < lead; i++) {
                assertEquals(SENTINEL, all[i], "element " + i + " before the slice is untouched");
            }
            assertEquals(SENTINEL, all[all.length - 1], "the element after the slice is untouched");
        }
    }

    @Test
    void normClippingAndFinitenessMatchPlainArrays() {
        Random random = new Random(5);
        float[] values = new float[1001];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
        }
        FlatBuffer buffer = CollectiveContractTest.offHeap(values);
        double squares = 0;
        for (int i = 10; i < 900; i++) {
            squares += (double) values[i] * values[i];
        }
        assertEquals(squares, buffer.sumOfSquares(10, 900), 0.0, "the same additions in the same order");
        float f = (float) 0.37;
        float[] scaled = values.clone();
        for (int i = 10; i < 900; i++) {
            scaled[i] *= f;
        }
        buffer.scale(10, 900, 0.37);
        assertArrayEquals(scaled, CollectiveContractTest.floats(buffer));
        assertTrue(buffer.allFinite(0, values.length));
        buffer.asFloatBuffer().put(500, Float.NaN);
        assertFalse(buffer.allFinite(0, values.length));
        assertTrue(buffer.allFinite(501, values.length));
        buffer.clear(400, 600);
        for (int i = 0; i < values.length; i++) {
            assertEquals(i >= 400 && i < 600 ? 0f : scaled[i], buffer.asFloatBuffer().get(i), "element " + i);
        }
    }

    @Test
    void refusesOtherTypesAndBuffersOverTwoGibibytes() {
        assertThrows(IllegalArgumentException.class, () -> FlatBuffer.of(DataType.FLOAT16, 10));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FlatBuffer.of(DataType.FLOAT64, 300_000_000));
        assertTrue(e.getMessage().contains("at most"), e.getMessage());
        try (NDManager manager = NDManager.newBaseManager()) {
            FlatBuffer buffer = FlatBuffer.of(DataType.FLOAT32, 4);
            assertThrows(IllegalArgumentException.class, () -> buffer.read(manager.zeros(new Shape(4), DataType.FLOAT64), 0));
        }
    }

    private static void put(FlatBuffer buffer, int i, double value) {
        if (buffer.type() == DataType.FLOAT32) {
            buffer.asFloatBuffer().put(i, (float) value);
        } else {
            buffer.asDoubleBuffer().put(i, value);
        }
    }

    private static double[] contents(FlatBuffer buffer) {
        double[] out = new double[buffer.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = buffer.type() == DataType.FLOAT32 ? buffer.asFloatBuffer().get(i) : buffer.asDoubleBuffer().get(i);
        }
        return out;
    }
}
