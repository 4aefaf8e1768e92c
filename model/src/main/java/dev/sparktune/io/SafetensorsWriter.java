package dev.sparktune.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes NDArrays to one safetensors file the way Hugging Face's {@code safetensors} does:
 * compact header JSON with {@code __metadata__} first, padded with spaces so the data section
 * starts 8-byte aligned, tensors packed back to back. Tensors go in name order, so the same
 * arrays always give the same bytes. The file appears atomically (see {@link AtomicFile}).
 */
public final class SafetensorsWriter {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private SafetensorsWriter() {
    }

    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) {
        Map<String, NDArray> sorted = new TreeMap<>(tensors);
        List<TensorInfo> layout = layout(file, sorted);
        byte[] header = header(layout, metadata);
        AtomicFile.write(file, channel -> {
            AtomicFile.writeFully(channel, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
            AtomicFile.writeFully(channel, ByteBuffer.wrap(header));
            for (TensorInfo info : layout) {
                writeData(file, channel, info, sorted.get(info.name()));
            }
        });
    }

    private static List<TensorInfo> layout(Path file, Map<String, NDArray> sorted) {
        List<TensorInfo> layout = new ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, NDArray> e : sorted.entrySet()) {
            NDArray array = e.getValue();
            DType dtype = DType.of(array.getDataType()).orElseThrow(() -> new CheckpointException(file, e.getKey(),
                    "DJL type " + array.getDataType() + " has no safetensors dtype; writable are " + DType.names()));
            List<Long> shape = new ArrayList<>();
            for (long d : array.getShape().getShape()) {
                shape.add(d);
            }
            TensorInfo info = new TensorInfo(e.getKey(), dtype, shape, offset, array.size() * dtype.bytes());
            layout.add(info);
            offset = info.end();
        }
        return layout;
    }

    /** The header JSON padded with spaces to a multiple of 8 bytes, as Hugging Face pads it. */
    static byte[] header(List<TensorInfo> layout, Map<String, String> metadata) {
        JsonObject root = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            new TreeMap<>(metadata).forEach(meta::addProperty);
            root.add(SafetensorsHeader.METADATA_KEY, meta);
        }
        for (TensorInfo info : layout) {
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", info.dtype().safetensorsName());
            JsonArray shape = new JsonArray();
            info.shape().forEach(shape::add);
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(info.offset());
            offsets.add(info.end());
            entry.add("data_offsets", offsets);
            root.add(info.name(), entry);
        }
        byte[] json = GSON.toJson(root).getBytes(StandardCharsets.UTF_8);
        byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    private static void writeData(Path file, FileChannel channel, TensorInfo info, NDArray array) throws IOException {
        // toByteBuffer(true) is a view of a contiguous array's memory, no copy. For a strided
        // array DJL first makes a contiguous copy and attaches it to the array's manager; the
        // scratch manager, which the array visits for this call only, frees that copy at once.
        try (NDManager scratch = array.getManager().newSubManager()) {
            array.tempAttach(scratch);
            ByteBuffer bytes = array.toByteBuffer(true);
            if (bytes.remaining() != info.length()) {
                throw new CheckpointException(file, info.name(), "DJL gave " + bytes.remaining()
                        + " bytes for shape " + info.shape() + " of " + info.dtype() + ", expected " + info.length());
            }
            AtomicFile.writeFully(channel, bytes);
        }
    }
}
