package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads files whose bytes the tests lay out by hand, so the reader is checked without the writer. */
class SafetensorsReaderTest {

    @TempDir
    Path dir;

    private static final String HEADER = "{\"__metadata__\":{\"format\":\"pt\",\"source\":\"by hand\"},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";

    private Path handLaid() throws IOException {
        byte[] data = HandLaid.floats(1f, -2f, 3.5f, 0.25f, -0f, 1e-30f, 7f, 8f, 9f);
        return HandLaid.file(dir.resolve("hand.safetensors"), HEADER, data);
    }

    @Test
    void readsHeaderMetadataAndTensorInfos() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(handLaid())) {
            assertEquals(Map.of("format", "pt", "source", "by hand"), file.metadata());
            assertEquals(List.of(
                    new TensorInfo("b", DType.F32, List.of(3L), 24, 12),
                    new TensorInfo("w", DType.F32, List.of(2L, 3L), 0, 24)), file.tensors());
        }
    }

    @Test
    void buffersAreLittleEndianViewsOfTheFile() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(handLaid())) {
            ByteBuffer b = file.buffer("b");
            assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
            assertTrue(b.isDirect(), "mapped, not copied onto the heap");
            assertTrue(b.isReadOnly());
            assertEquals(12, b.remaining());
            assertEquals(7f, b.getFloat(0));
            assertEquals(8f, b.getFloat(4));
            assertEquals(9f, b.getFloat(8));
            assertEquals(0.25f, file.buffer("w", 12, 4).getFloat(0));
        }
    }

    @Test
    void loadsArraysWithTheFilesShapeAndBits() throws IOException {
        try (SafetensorsFile file = SafetensorsFile.open(handLaid()); NDManager manager = NDManager.newBaseManager()) {
            NDArray w = file.load("w", manager);
            assertEquals(new Shape(2, 3), w.getShape());
            assertEquals(DataType.FLOAT32, w.getDataType());
            assertEquals("w", w.getName());
            float[] values = w.toFloatArray();
            assertArrayEquals(new float[] {1f, -2f, 3.5f, 0.25f, -0f, 1e-30f}, values);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(values[4]));
        }
    }

    @Test
    void loadedArraysAreCopiesThatOutliveTheFile() throws IOException {
        NDArray w;
        try (NDManager manager = NDManager.newBaseManager()) {
            try (SafetensorsFile file = SafetensorsFile.open(handLaid())) {
                w = file.load("w", manager);
            }
            // in-place on an alias of a read-only mapping would crash the JVM
            w.addi(1f);
            assertArrayEquals(new float[] {2f, -1f, 4.5f, 1.25f, 1f, 1f}, w.toFloatArray());
        }
    }

    @Test
    void aClosedFileRefusesNewReads() throws IOException {
        SafetensorsFile file = SafetensorsFile.open(handLaid());
        ByteBuffer before = file.buffer("b");
        file.close();
        assertEquals(7f, before.getFloat(0), "a buffer mapped before close stays readable");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> file.buffer("b"));
        assertTrue(e.getMessage().contains("hand.safetensors"), e.getMessage());
    }

    @Test
    void missingTensorNamesTheFileAndSomeThatExist() throws IOException {
        String header = "{\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"model.layers.0.self_attn.q_proj.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                + "\"model.layers.0.self_attn.v_proj.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        Path path = HandLaid.file(dir.resolve("names.safetensors"), header, HandLaid.floats(1, 2, 3));
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> file.load("model.layers.0.self_attn.q_prj.weight", manager));
            assertTrue(e.getMessage().contains("names.safetensors"), e.getMessage());
            assertTrue(e.getMessage().contains("'model.layers.0.self_attn.q_prj.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("'model.layers.0.self_attn.q_proj.weight'"), e.getMessage());
            assertEquals("model.layers.0.self_attn.q_prj.weight", e.tensor().orElseThrow());
        }
    }

    @Test
    void bf16IsWidenedToFloat32Exactly() throws IOException {
        // bfloat16 bit patterns and the numbers they stand for, worked out by hand
        byte[] data = HandLaid.shorts(0x3F80, 0xC020, 0x4049, 0x7F80, 0xFF80, 0x0001, 0x8000);
        float[] expected = {1f, -2.5f, 3.140625f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Math.scalb(1f, -133), -0f};
        String header = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[0,14]}}";
        Path path = HandLaid.file(dir.resolve("bf16.safetensors"), header, data);
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            assertArrayEquals(data, HandLaid.bytesOf(file.buffer("x")), "raw bytes stay available");
            NDArray x = file.load("x", manager);
            assertEquals(DataType.FLOAT32, x.getDataType());
            assertEquals(new Shape(7), x.getShape());
            float[] actual = x.toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]), "element " + i);
            }
        }
    }

    @Test
    void i16IsWidenedToInt32WithItsSign() throws IOException {
        String header = "{\"x\":{\"dtype\":\"I16\",\"shape\":[5],\"data_offsets\":[0,10]}}";
        Path path = HandLaid.file(dir.resolve("i16.safetensors"), header, HandLaid.shorts(-32768, -1, 0, 1, 32767));
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            NDArray x = file.load("x", manager);
            assertEquals(DataType.INT32, x.getDataType());
            assertArrayEquals(new int[] {-32768, -1, 0, 1, 32767}, x.toIntArray());
        }
    }

    @Test
    void scalarsAndEmptyTensors() throws IOException {
        String header = "{\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}";
        Path path = HandLaid.file(dir.resolve("edge.safetensors"), header, HandLaid.floats(42f));
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            NDArray scalar = file.load("scalar", manager);
            assertEquals(new Shape(), scalar.getShape());
            assertEquals(42f, scalar.getFloat());
            NDArray empty = file.load("empty", manager);
            assertEquals(new Shape(0, 3), empty.getShape());
            assertEquals(0, file.buffer("empty").remaining());
        }
    }

    @Test
    void largeTensorsAreReadInChunksAndJoinedInOrder() throws IOException {
        float[] values = new float[21];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 1.5f - 7f;
        }
        int[] bf16 = {0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0};
        String header = "{\"m\":{\"dtype\":\"F32\",\"shape\":[7,3],\"data_offsets\":[0,84]},"
                + "\"h\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[84,94]}}";
        Path path = HandLaid.file(dir.resolve("chunks.safetensors"), header,
                HandLaid.concat(HandLaid.floats(values), HandLaid.shorts(bf16)));
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            // 8-byte chunks: two floats at a time, the last chunk shorter
            NDArray m = TensorDecoder.decode(file, file.info("m"), manager, 8);
            assertEquals(new Shape(7, 3), m.getShape());
            assertArrayEquals(values, m.toFloatArray());
            NDArray h = TensorDecoder.decode(file, file.info("h"), manager, 8);
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f, 5f}, h.toFloatArray());
        }
    }

    @Test
    void gapsBetweenTensorsAreAllowed() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        Path path = HandLaid.file(dir.resolve("gap.safetensors"), header, HandLaid.floats(1f, 99f, 2f));
        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            assertEquals(2f, file.load("b", manager).getFloat());
            assertFalse(file.contains("c"));
        }
    }
}
