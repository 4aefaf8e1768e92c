package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    /** Every dtype DJL's PyTorch engine can hold; random bits cover NaN payloads, subnormals and -0. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "I16"}, mode = EnumSource.Mode.EXCLUDE)
    void everyDTypeComesBackBitExact(DType dtype) {
        Path path = dir.resolve(dtype + ".safetensors");
        List<Shape> shapes = List.of(new Shape(2, 3, 4), new Shape(), new Shape(5), new Shape(0, 7));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> written = new LinkedHashMap<>();
            for (int i = 0; i < shapes.size(); i++) {
                written.put("t" + i, randomArray(manager, dtype, shapes.get(i), i));
            }
            SafetensorsWriter.write(path, written, Map.of());
            try (SafetensorsFile file = SafetensorsFile.open(path)) {
                SortedMap<String, NDArray> read = file.loadAll(manager);
                assertEquals(written.keySet(), read.keySet());
                for (String name : written.keySet()) {
                    NDArray expected = written.get(name);
                    NDArray actual = read.get(name);
                    assertEquals(expected.getShape(), actual.getShape(), name);
                    assertEquals(dtype.dataType(), actual.getDataType(), name);
                    assertArrayEquals(HandLaid.bytesOf(expected), HandLaid.bytesOf(actual), name);
                    assertEquals(dtype, file.info(name).dtype());
                }
            }
        }
    }

    @Test
    void metadataComesBack() {
        Path path = dir.resolve("meta.safetensors");
        Map<String, String> metadata = Map.of("format", "pt", "base_model", "all-MiniLM-L6-v2",
                "unicode", "ünï \"quoted\" \\ <tag>", "empty", "");
        try (NDManager manager = NDManager.newBaseManager()) {
            SafetensorsWriter.write(path, Map.of("x", manager.create(1f)), metadata);
        }
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            assertEquals(metadata, file.metadata());
        }
    }

    private static NDArray randomArray(NDManager manager, DType dtype, Shape shape, int seed) {
        Random random = new Random(seed * 31L + dtype.ordinal());
        byte[] bits = new byte[Math.toIntExact(shape.size() * dtype.bytes())];
        random.nextBytes(bits);
        if (dtype == DType.BOOL) {
            for (int i = 0; i < bits.length; i++) {
                bits[i] &= 1;
            }
        }
        ByteBuffer direct = manager.allocateDirect(bits.length).order(ByteOrder.LITTLE_ENDIAN).put(bits).flip();
        return manager.create(direct, shape, dtype.dataType());
    }
}
