package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every kind of damage is refused when the file is opened, with a message naming the file and the tensor. */
class SafetensorsCorruptionTest {

    @TempDir
    Path dir;

    static Stream<Arguments> damagedHeaders() {
        return Stream.of(
                Arguments.of("invalid JSON", "{\"a\":{\"dtype\":\"F32\",", 0, null, "not valid JSON"),
                Arguments.of("text after the JSON", "{} {}", 0, null, "not valid JSON"),
                Arguments.of("not an object", "[1,2]", 0, null, "must be a JSON object"),
                Arguments.of("missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a", "has no dtype"),
                Arguments.of("unknown dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "a",
                        "unknown dtype 'F8_E4M3'"),
                Arguments.of("negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4, "a",
                        "shape must be a list of whole numbers >= 0, got [2,-1]"),
                Arguments.of("fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "a",
                        "shape must be a list of whole numbers"),
                Arguments.of("shape not a list", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2x2\",\"data_offsets\":[0,16]}}", 16, "a",
                        "shape must be a list"),
                Arguments.of("missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "a", "has no data_offsets"),
                Arguments.of("three data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "a",
                        "data_offsets must be 2 whole numbers"),
                Arguments.of("offsets past the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "a",
                        "reach past the end of the data section (8 bytes)"),
                Arguments.of("offsets backwards", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "a",
                        "end before they begin"),
                Arguments.of("length not shape times size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24,
                        "a", "hold 20 bytes, but shape [2, 3] of F32 needs 24"),
                Arguments.of("overlapping tensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "b", "overlap tensor 'a'"),
                Arguments.of("metadata not strings", "{\"__metadata__\":{\"epoch\":3}}", 0, null,
                        "__metadata__.epoch must be a string"),
                Arguments.of("shape overflows", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                        8, "a", "too large"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("damagedHeaders")
    void damagedHeaderIsRefused(String what, String header, int dataBytes, String tensor, String problem) throws IOException {
        Path path = HandLaid.file(dir.resolve("bad.safetensors"), header, new byte[dataBytes]);
        assertRefused(path, Optional.ofNullable(tensor), problem);
    }

    @Test
    void headerThatIsNotUtf8() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        Path path = HandLaid.file(dir.resolve("latin.safetensors"), header, new byte[0]);
        assertRefused(path, Optional.empty(), "not valid UTF-8");
    }

    @Test
    void fileTooShortForTheHeaderLength() throws IOException {
        Path path = Files.write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        assertRefused(path, Optional.empty(), "3 bytes, too short");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path path = dir.resolve("long.safetensors");
        Files.write(path, ByteBuffer.allocate(8 + 10).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        assertRefused(path, Optional.empty(), "header length 1000 is larger than the rest of the file (10 bytes)");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        Path path = dir.resolve("absurd.safetensors");
        // what the first 8 bytes of a text or zip file look like as a length
        Files.write(path, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0x0403_4b50_0000_0000L).array());
        assertRefused(path, Optional.empty(), "this is not a safetensors file");
        Files.write(path, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(-8).array());
        assertRefused(path, Optional.empty(), "this is not a safetensors file");
    }

    @Test
    void truncatedFileNamesTheTensorThatIsCutOff() throws IOException {
        Path path = dir.resolve("cut.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            SafetensorsWriter.write(path, Map.of("a", manager.ones(new Shape(4)),
                    "z", manager.ones(new Shape(4))), Map.of());
        }
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
            raf.setLength(raf.length() - 3);
        }
        assertRefused(path, Optional.of("z"), "reach past the end of the data section");
    }

    @Test
    void missingFile() {
        assertRefused(dir.resolve("nope.safetensors"), Optional.empty(), "no such file");
    }

    private static void assertRefused(Path path, Optional<String> tensor, String problem) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(path).close());
        String message = e.getMessage();
        assertTrue(message.startsWith(path.toString() + ": "), message);
        assertTrue(message.contains(problem), "expected '" + problem + "' in: " + message);
        assertEquals(tensor, e.tensor(), message);
        tensor.ifPresent(t -> assertTrue(message.contains("tensor '" + t + "'"), message));
    }
}
