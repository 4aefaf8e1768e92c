package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.PackedTensor;
import java.nio.ByteBuffer;

/**
 * A weight matrix as bfloat16 bits, 2 bytes per weight, widened exactly to float32 per use (bfloat16 is the upper
 * half of a float32). DJL 0.36's PyTorch engine aborts the JVM on a BFLOAT16 or INT16 array, so the bits are held
 * in pairs in an INT32 array: int i is weights 2i (low half) and 2i + 1 (high half), which is a bf16 tensor's
 * little-endian bytes read as int32. Widening is libtorch arithmetic: the float bits of weight 2i are
 * {@code low << 16} and those of 2i + 1 are {@code int - low}, with low = int mod 2^16; the int32 result is then
 * read as float32 through an alias of its memory, copied once so the result owns its storage.
 */
final class Bf16Bits implements PackedTensor {
    private final NDArray pairs;
    private final Shape shape;

    private Bf16Bits(NDArray pairs, Shape shape) {
        this.pairs = pairs;
        this.shape = shape;
    }

    /**
     * {@code w} rounded to bfloat16 (to nearest, ties to even, as PyTorch; exact for a bf16 checkpoint, whose values
     * loaded as float32 are bf16 numbers); the new array belongs to {@code w}'s manager, {@code w} is left open.
     */
    static Bf16Bits of(NDArray w) {
        float[] values;
        try (NDArray w32 = w.toType(DataType.FLOAT32, true)) {
            values = w32.toFloatArray();
        }
        int[] packed = new int[(values.length + 1) / 2];
        for (int i = 0; i < values.length; i++) {
            int half = round(values[i]) & 0xffff;
            packed[i / 2] |= i % 2 == 0 ? half : half << 16;
        }
        return new Bf16Bits(w.getManager().create(packed), w.getShape());
    }

    /** The bfloat16 nearest to {@code value} (ties to even), as its 16 bits; NaN stays a quiet NaN. */
    static short round(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (value != value) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    @Override
    public Shape shape() {
        return shape;
    }

    @Override
    public NDArray unpack(NDManager manager, DataType dtype) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray x = pairs.get(scratch, new NDIndex("..."));
            NDArray low = x.mod(65536);                                          // floor mod: 0 .. 65535
            // low << 16 without int32 overflow: low as a signed 16-bit number, times 2^16
            NDArray even = low.sub(low.gte(32768).toType(DataType.INT32, false).mul(65536)).mul(65536);
            NDArray odd = x.sub(low);
            NDArray bits = even.expandDims(1).concat(odd.expandDims(1), 1).reshape(-1);
            if (bits.size() > shape.size()) {
                bits = bits.get("0:" + shape.size()).duplicate();
            }
            ByteBuffer raw = bits.toByteBuffer(true);
            NDArray out;
            try (NDArray alias = scratch.create(raw, shape, DataType.FLOAT32)) {
                out = dtype == DataType.FLOAT32 ? alias.duplicate() : alias.toType(dtype, true);
            }
            out.attach(manager);
            return out;
        }
    }

    @Override
    public long bytes() {
        return 4 * pairs.size();
    }

    @Override
    public String kind() {
        return "bf16";
    }

    @Override
    public void close() {
        pairs.close();
    }
}
