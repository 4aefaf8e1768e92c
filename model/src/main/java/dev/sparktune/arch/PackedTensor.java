package dev.sparktune.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * A frozen weight matrix kept in fewer bits than it is computed in (int8, NF4 or bfloat16 bits), widened into a
 * float array only for the one operation that reads it ({@link ForwardHooks#linear}).
 */
public interface PackedTensor extends AutoCloseable {

    /** The shape of the float tensor it stands for. */
    Shape shape();

    /** The float tensor it stands for, in {@code dtype}: a new array of {@code manager} that the caller closes. */
    NDArray unpack(NDManager manager, DataType dtype);

    /** Native bytes it holds: its codes and scales. */
    long bytes();

    /** How it is stored, for accounting: {@code int8}, {@code nf4}, {@code bf16}. */
    String kind();

    @Override
    void close();
}
