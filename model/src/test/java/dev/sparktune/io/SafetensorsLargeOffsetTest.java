package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3 GiB tensor in a sparse file: the disk holds only the few bytes written, and reading them
 * back goes through memory mappings past the 2 GiB mark, with nothing copied onto the heap.
 */
class SafetensorsLargeOffsetTest {
    private static final long BIG = 3L << 30;

    @TempDir
    Path dir;

    @Test
    void bytesPastTwoGibibytesAreMappedAndRead() throws IOException {
        String json = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + BIG + "],\"data_offsets\":[0," + BIG + "]},"
                + "\"tail\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[" + BIG + "," + (BIG + 4) + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + header.length;
        byte[] endOfBig = {11, 22, 33, 44, 55, 66, 77, 88};
        byte[] tail = {-1, 0, 1, 127};
        Path path = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            raf.write(header);
            raf.setLength(dataStart + BIG + tail.length);
            raf.seek(dataStart + BIG - endOfBig.length);
            raf.write(endOfBig);
            raf.write(tail);
        }
        assertTrue(Files.size(path) > BIG);

        try (SafetensorsFile file = SafetensorsFile.open(path); NDManager manager = NDManager.newBaseManager()) {
            assertEquals(List.of(BIG), file.info("big").shape());

            ByteBuffer end = file.buffer("big", BIG - endOfBig.length, endOfBig.length);
            assertTrue(end.isDirect(), "mapped, not a heap copy");
            assertArrayEquals(endOfBig, HandLaid.bytesOf(end));
            assertEquals(0, file.buffer("big", (2L << 30) + 12345, 1).get(0), "the hole reads as zeros");

            assertArrayEquals(tail, HandLaid.bytesOf(file.buffer("tail")));
            NDArray loaded = file.load("tail", manager);
            assertEquals(DataType.UINT8, loaded.getDataType());
            assertArrayEquals(tail, loaded.toByteArray());

            IllegalArgumentException whole = assertThrows(IllegalArgumentException.class, () -> file.buffer("big"));
            assertTrue(whole.getMessage().contains("buffer(name, from, length)"), whole.getMessage());
        }
    }
}
