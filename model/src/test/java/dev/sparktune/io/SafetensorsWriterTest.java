package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checks the bytes the writer lays down by parsing them here, not with the reader. */
class SafetensorsWriterTest {

    @TempDir
    Path dir;

    @Test
    void headerIsCompactJsonInNameOrderPaddedToEightBytes() throws IOException {
        Path path = dir.resolve("w.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray b = manager.create(new float[] {1f, 2f});
            NDArray a = manager.create(7L);
            SafetensorsWriter.write(path, Map.of("b", b, "a", a), Map.of("format", "pt", "note", "a<b & c='d'"));
        }
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        long n = raw.getLong(0);
        assertEquals(0, (8 + n) % 8, "data section starts 8-byte aligned");
        String header = new String(Arrays.copyOfRange(raw.array(), 8, (int) (8 + n)), StandardCharsets.UTF_8);
        String json = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a<b & c='d'\"},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        assertTrue(header.startsWith(json), header);
        assertTrue(header.substring(json.length()).matches(" {0,7}"), "padding is spaces: [" + header + "]");
        assertEquals(8 + n + 16, raw.capacity(), "nothing after the last tensor");
        int data = (int) (8 + n);
        assertEquals(7L, raw.getLong(data));
        assertEquals(1f, raw.getFloat(data + 8));
        assertEquals(2f, raw.getFloat(data + 12));
    }

    @Test
    void withoutMetadataThereIsNoMetadataEntry() throws IOException {
        Path path = dir.resolve("plain.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            SafetensorsWriter.write(path, Map.of("x", manager.create(new int[] {5})), Map.of());
        }
        byte[] raw = Files.readAllBytes(path);
        String header = new String(raw, 8, (int) ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong(0),
                StandardCharsets.UTF_8).strip();
        assertEquals("{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", header);
    }

    @Test
    void stridedArraysAreWrittenInLogicalOrder() throws IOException {
        Path path = dir.resolve("t.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray transposed = manager.arange(6f).reshape(2, 3).transpose();
            int arrays = manager.getManagedArrays().size();
            SafetensorsWriter.write(path, Map.of("t", transposed), Map.of());
            assertEquals(arrays, manager.getManagedArrays().size(), "the contiguous copy made for writing is freed");
            assertTrue(manager.getManagedArrays().contains(transposed), "the array is back with its manager");
        }
        byte[] raw = Files.readAllBytes(path);
        long n = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertArrayEquals(HandLaid.floats(0f, 3f, 1f, 4f, 2f, 5f), Arrays.copyOfRange(raw, (int) (8 + n), raw.length));
    }

    @Test
    void replacesAnExistingFileAndLeavesNoTemporaryFiles() throws IOException {
        Path path = dir.resolve("r.safetensors");
        Files.writeString(path, "old content");
        try (NDManager manager = NDManager.newBaseManager()) {
            SafetensorsWriter.write(path, Map.of("x", manager.create(new float[] {3f})), Map.of());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(path), files.toList());
        }
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            assertEquals(3f, file.buffer("x").getFloat(0));
        }
    }
}
