package dev.sparktune.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The header of a safetensors file, read and checked: an 8-byte little-endian length N, then N
 * bytes of UTF-8 JSON mapping each tensor name to its dtype, shape and {@code data_offsets}
 * (relative to the data section at byte 8 + N), plus an optional {@code __metadata__} map of
 * strings. Every inconsistency is a {@link CheckpointException} naming the file and the tensor.
 *
 * <p>Gaps between tensors and bytes after the last one are allowed; overlaps are not.
 *
 * @param dataStart where the data section starts in the file (8 + N)
 * @param metadata  the {@code __metadata__} map sorted by key, empty when absent
 * @param tensors   every tensor, sorted by name
 */
record SafetensorsHeader(long dataStart, Map<String, String> metadata, List<TensorInfo> tensors) {

    static final String METADATA_KEY = "__metadata__";

    /** Hugging Face's safetensors refuses headers above this size too. */
    static final long MAX_HEADER_BYTES = 100_000_000;

    static SafetensorsHeader read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new CheckpointException(file, "file is " + fileSize
                    + " bytes, too short to be safetensors (it starts with an 8-byte header length)");
        }
        long headerLength = readFully(channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new CheckpointException(file, "header length " + Long.toUnsignedString(headerLength)
                    + " is outside 0.." + MAX_HEADER_BYTES + "; this is not a safetensors file");
        }
        if (headerLength > fileSize - 8) {
            throw new CheckpointException(file, "header length " + headerLength + " is larger than the rest of the file ("
                    + (fileSize - 8) + " bytes); the file is truncated or not safetensors");
        }
        ByteBuffer json = readFully(channel, 8, (int) headerLength);
        long dataStart = 8 + headerLength;
        return parse(file, decode(file, json), fileSize - dataStart, dataStart);
    }

    private static SafetensorsHeader parse(Path file, String json, long dataBytes, long dataStart) {
        JsonObject root = parseObject(file, json);
        Map<String, String> metadata = new TreeMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : root.entrySet()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata.putAll(readMetadata(file, e.getValue()));
            } else {
                tensors.add(readTensor(file, e.getKey(), e.getValue(), dataBytes));
            }
        }
        rejectOverlaps(file, tensors);
        tensors.sort(Comparator.comparing(TensorInfo::name));
        return new SafetensorsHeader(dataStart, Collections.unmodifiableMap(metadata), List.copyOf(tensors));
    }

    private static JsonObject parseObject(Path file, String json) {
        JsonReader reader = new JsonReader(new StringReader(json));
        reader.setStrictness(Strictness.STRICT);
        JsonElement root;
        try {
            root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new CheckpointException(file, "header has text after its JSON object");
            }
        } catch (JsonParseException | IOException e) {
            throw new CheckpointException(file, null, "header is not valid JSON: " + firstLine(e), e);
        }
        if (root.isJsonNull() && json.isBlank()) {
            throw new CheckpointException(file, "header is empty; it should be a JSON object of tensors");
        }
        if (!root.isJsonObject()) {
            throw new CheckpointException(file, "header must be a JSON object of tensors, got " + abbreviate(root));
        }
        return root.getAsJsonObject();
    }

    private static Map<String, String> readMetadata(Path file, JsonElement value) {
        if (!value.isJsonObject()) {
            throw new CheckpointException(file, METADATA_KEY + " must be an object of strings, got " + abbreviate(value));
        }
        Map<String, String> metadata = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : value.getAsJsonObject().entrySet()) {
            JsonElement v = e.getValue();
            if (!(v.isJsonPrimitive() && v.getAsJsonPrimitive().isString())) {
                throw new CheckpointException(file, METADATA_KEY + "." + e.getKey()
                        + " must be a string, got " + abbreviate(v));
            }
            metadata.put(e.getKey(), v.getAsString());
        }
        return metadata;
    }

    private static TensorInfo readTensor(Path file, String name, JsonElement value, long dataBytes) {
        if (!value.isJsonObject()) {
            throw new CheckpointException(file, name, "expected {\"dtype\", \"shape\", \"data_offsets\"}, got " + abbreviate(value));
        }
        JsonObject entry = value.getAsJsonObject();
        DType dtype = readDType(file, name, entry.get("dtype"));
        List<Long> shape = readWholeNumbers(file, name, entry, "shape", -1);
        List<Long> offsets = readWholeNumbers(file, name, entry, "data_offsets", 2);
        long begin = offsets.get(0);
        long end = offsets.get(1);
        if (begin > end) {
            throw new CheckpointException(file, name, "data_offsets " + offsets + " end before they begin");
        }
        if (end > dataBytes) {
            throw new CheckpointException(file, name, "data_offsets " + offsets + " reach past the end of the data section ("
                    + dataBytes + " bytes): the file is truncated or the offsets are wrong");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, begin, end - begin);
        long expected;
        try {
            expected = Math.multiplyExact(info.elementCount(), dtype.bytes());
        } catch (ArithmeticException overflow) {
            throw new CheckpointException(file, name, "shape " + shape + " is too large to address");
        }
        if (expected != info.length()) {
            throw new CheckpointException(file, name, "data_offsets " + offsets + " hold " + info.length()
                    + " bytes, but shape " + shape + " of " + dtype + " needs " + expected);
        }
        return info;
    }

    private static DType readDType(Path file, String name, JsonElement value) {
        if (value == null) {
            throw new CheckpointException(file, name, "has no dtype");
        }
        if (!(value.isJsonPrimitive() && value.getAsJsonPrimitive().isString())) {
            throw new CheckpointException(file, name, "dtype must be a string, got " + abbreviate(value));
        }
        String dtype = value.getAsString();
        return DType.fromSafetensorsName(dtype).orElseThrow(() -> new CheckpointException(file, name,
                "unknown dtype '" + dtype + "'; known dtypes are " + DType.names()));
    }

    /** A JSON array of whole numbers ≥ 0; {@code size} -1 allows any length. */
    private static List<Long> readWholeNumbers(Path file, String name, JsonObject entry, String key, int size) {
        JsonElement value = entry.get(key);
        String wanted = size < 0 ? "a list of whole numbers >= 0" : size + " whole numbers >= 0";
        if (value == null) {
            throw new CheckpointException(file, name, "has no " + key);
        }
        if (!value.isJsonArray() || (size >= 0 && value.getAsJsonArray().size() != size)) {
            throw new CheckpointException(file, name, key + " must be " + wanted + ", got " + abbreviate(value));
        }
        List<Long> numbers = new ArrayList<>();
        for (JsonElement item : value.getAsJsonArray()) {
            Long n = wholeNumber(item);
            if (n == null || n < 0) {
                throw new CheckpointException(file, name, key + " must be " + wanted + ", got " + abbreviate(value));
            }
            numbers.add(n);
        }
        return numbers;
    }

    private static Long wholeNumber(JsonElement item) {
        if (!(item.isJsonPrimitive() && item.getAsJsonPrimitive().isNumber())) {
            return null;
        }
        try {
            return new BigDecimal(((JsonPrimitive) item).getAsString()).longValueExact();
        } catch (ArithmeticException | NumberFormatException notWhole) {
            return null;
        }
    }

    private static void rejectOverlaps(Path file, List<TensorInfo> tensors) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.removeIf(t -> t.length() == 0);
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset).thenComparing(TensorInfo::name));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo before = byOffset.get(i - 1);
            TensorInfo t = byOffset.get(i);
            if (t.offset() < before.end()) {
                throw new CheckpointException(file, t.name(), "bytes [" + t.offset() + ", " + t.end()
                        + ") overlap tensor '" + before.name() + "' at [" + before.offset() + ", " + before.end() + ")");
            }
        }
    }

    private static String decode(Path file, ByteBuffer json) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(json)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file, null, "header is not valid UTF-8", e);
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException("file ended at byte " + (position + buffer.position()));
            }
        }
        return buffer.flip();
    }

    /** Gson's own words, less its advice to parse leniently and the troubleshooting link on the next line. */
    private static String firstLine(Exception e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String message = String.valueOf(root.getMessage());
        int newline = message.indexOf('\n');
        String first = newline < 0 ? message : message.substring(0, newline);
        return first.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed");
    }

    private static String abbreviate(JsonElement value) {
        String text = String.valueOf(value);
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }
}
