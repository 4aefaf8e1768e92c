package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.PackedTensor;
import dev.sparktune.io.Int8Weights;
import java.util.List;
import java.util.Map;

/**
 * A weight matrix [out, in] as int8 with one float32 scale per output row: the scheme of sparktune's int8 export
 * ({@link Int8Weights}: symmetric, scale = max |w[o, :]| / 127, |w - q scale| <= scale / 2), here kept in memory for
 * a frozen base and widened per use.
 */
final class Int8Rows implements PackedTensor {
    private final NDArray q;
    private final NDArray scale;

    private Int8Rows(NDArray q, NDArray scale) {
        this.q = q;
        this.scale = scale;
    }

    /** {@code w} quantised; the new arrays belong to {@code w}'s manager, {@code w} is left open. */
    static Int8Rows of(NDArray w) {
        Map<String, NDArray> packed = Int8Weights.quantize(Map.of("w.weight", w), List.of("w"), w.getManager());
        return new Int8Rows(packed.get("w.weight"), packed.get(Int8Weights.scaleName("w.weight")));
    }

    @Override
    public Shape shape() {
        return q.getShape();
    }

    @Override
    public NDArray unpack(NDManager manager, DataType dtype) {
        DataType work = dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        try (NDManager scratch = manager.newSubManager()) {
            NDArray w = q.get(scratch, new NDIndex("...")).toType(work, false)
                    .mul(scale.get(scratch, new NDIndex("...")).toType(work, false).expandDims(1));
            NDArray out = w.getDataType() == dtype ? w : w.toType(dtype, false);
            out.attach(manager);
            return out;
        }
    }

    @Override
    public long bytes() {
        return q.size() + 4 * scale.size();
    }

    @Override
    public String kind() {
        return "int8";
    }

    /** The scale of each row, for tests. */
    float[] scales() {
        return scale.toFloatArray();
    }

    /** The int8 values, row-major, for tests. */
    byte[] values() {
        return q.toByteArray();
    }

    @Override
    public void close() {
        q.close();
        scale.close();
    }
}
