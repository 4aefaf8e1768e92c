package dev.sparktune.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Turns a tensor's bytes in a safetensors file into an NDArray the caller owns.
 *
 * <p>The bytes are handed to PyTorch straight from the memory-mapped file, without a stop on the
 * Java heap. {@code NDManager.create} on a direct buffer does not copy: the array aliases the
 * mapping, which is read-only and must not outlive the file, so it is duplicated once in native
 * memory and the alias closed. A tensor larger than one {@code ByteBuffer} can address (2 GiB)
 * is read in chunks and concatenated. BF16 and I16 are widened exactly (see {@link DType}).
 */
final class TensorDecoder {

    /** Largest chunk of the loaded array that one ByteBuffer carries; a multiple of every element size. */
    static final long CHUNK_BYTES = 1L << 30;

    private TensorDecoder() {
    }

    static NDArray decode(SafetensorsFile file, TensorInfo info, NDManager manager) {
        return decode(file, info, manager, CHUNK_BYTES);
    }

    static NDArray decode(SafetensorsFile file, TensorInfo info, NDManager manager, long chunkBytes) {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("safetensors data is little-endian; this CPU is not");
        }
        DType dtype = info.dtype();
        Shape shape = info.djlShape();
        long count = info.elementCount();
        if (count == 0) {
            return manager.zeros(shape, dtype.loadedAs());
        }
        long perChunk = chunkBytes / dtype.loadedAs().getNumOfBytes();
        if (count <= perChunk) {
            return decodeChunk(file, info, 0, shape, manager);
        }
        NDList parts = new NDList();
        try {
            for (long first = 0; first < count; first += perChunk) {
                parts.add(decodeChunk(file, info, first, new Shape(Math.min(perChunk, count - first)), manager));
            }
            try (NDArray flat = NDArrays.concat(parts)) {
                return flat.reshape(shape);
            }
        } finally {
            parts.close();
        }
    }

    /** Elements {@code first ..} of the tensor, as many as {@code shape} holds. */
    private static NDArray decodeChunk(SafetensorsFile file, TensorInfo info, long first, Shape shape, NDManager manager) {
        DType dtype = info.dtype();
        int length = Math.toIntExact(shape.size() * dtype.bytes());
        ByteBuffer bytes = file.buffer(info.name(), first * dtype.bytes(), length);
        if (dtype.isWidenedOnLoad()) {
            return widen(bytes, dtype, shape, manager);
        }
        try (NDArray mapped = manager.create(bytes, shape, dtype.dataType())) {
            return mapped.duplicate();
        }
    }

    /**
     * BF16 is the upper half of an F32, so its bits shifted left by 16 are the same number;
     * I16 is sign-extended to I32. The values are written straight into the new array's memory:
     * for a fresh (contiguous) array, {@code toByteBuffer(true)} is a view of it, not a copy.
     */
    private static NDArray widen(ByteBuffer bytes, DType dtype, Shape shape, NDManager manager) {
        DataType wide = dtype.loadedAs();
        NDArray out = manager.create(shape, wide);
        ByteBuffer target = out.toByteBuffer(true).order(ByteOrder.LITTLE_ENDIAN);
        int count = Math.toIntExact(shape.size());
        for (int i = 0; i < count; i++) {
            short bits = bytes.getShort(2 * i);
            target.putInt(4 * i, dtype == DType.BF16 ? (bits & 0xFFFF) << 16 : bits);
        }
        return out;
    }
}
