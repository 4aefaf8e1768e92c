package dev.sparktune.io;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The element types a safetensors file can hold, by their names in the header ({@code "F32"}),
 * with their size and their DJL counterpart.
 *
 * <p>DJL 0.36.0's PyTorch engine aborts the whole JVM (a native {@code std::terminate}) when it
 * is asked to create a {@code BFLOAT16} or {@code INT16} array, so those two are loaded widened
 * to {@link #loadedAs()}: bfloat16 to float32 and int16 to int32, both exact.
 */
public enum DType {
    F64(8, DataType.FLOAT64, DataType.FLOAT64),
    F32(4, DataType.FLOAT32, DataType.FLOAT32),
    F16(2, DataType.FLOAT16, DataType.FLOAT16),
    BF16(2, DataType.BFLOAT16, DataType.FLOAT32),
    I64(8, DataType.INT64, DataType.INT64),
    I32(4, DataType.INT32, DataType.INT32),
    I16(2, DataType.INT16, DataType.INT32),
    I8(1, DataType.INT8, DataType.INT8),
    U8(1, DataType.UINT8, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN, DataType.BOOLEAN);

    private final int bytes;
    private final DataType dataType;
    private final DataType loadedAs;

    DType(int bytes, DataType dataType, DataType loadedAs) {
        this.bytes = bytes;
        this.dataType = dataType;
        this.loadedAs = loadedAs;
    }

    /** The name in a safetensors header, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return name();
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The DJL type with the same bits. */
    public DataType dataType() {
        return dataType;
    }

    /** The DJL type a loaded array gets: {@link #dataType()}, or its exact widening where PyTorch in DJL cannot hold it. */
    public DataType loadedAs() {
        return loadedAs;
    }

    public boolean isWidenedOnLoad() {
        return loadedAs != dataType;
    }

    public static Optional<DType> fromSafetensorsName(String name) {
        return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
    }

    public static Optional<DType> of(DataType dataType) {
        return Arrays.stream(values()).filter(d -> d.dataType == dataType).findFirst();
    }

    /** {@code "F64, F32, ..."}, for error messages. */
    static String names() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
