package dev.sparktune.io;

import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * One tensor as a safetensors header declares it.
 *
 * @param name   the tensor's name, Hugging Face style ({@code model.layers.0.mlp.up_proj.weight})
 * @param dtype  its element type
 * @param shape  its dimensions; empty for a scalar
 * @param offset where its bytes start, counted from the start of the data section ({@code data_offsets[0]})
 * @param length how many bytes it holds ({@code data_offsets[1] - data_offsets[0]})
 */
public record TensorInfo(String name, DType dtype, List<Long> shape, long offset, long length) {

    public TensorInfo {
        shape = List.copyOf(shape);
    }

    /** One past its last byte, counted from the start of the data section ({@code data_offsets[1]}). */
    public long end() {
        return offset + length;
    }

    public long elementCount() {
        return shape.stream().mapToLong(Long::longValue).reduce(1, Math::multiplyExact);
    }

    public Shape djlShape() {
        return new Shape(shape.stream().mapToLong(Long::longValue).toArray());
    }
}
