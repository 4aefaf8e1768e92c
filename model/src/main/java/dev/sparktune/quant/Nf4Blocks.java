package dev.sparktune.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sparktune.arch.PackedTensor;

/**
 * A weight matrix as QLoRA's NF4 (Dettmers et al., 2023): the weights in row-major order are cut into blocks of
 * {@value #BLOCK}; each block keeps its absmax as a float32 scale and each weight the index of the
 * {@link NormalFloat4} level nearest to w / absmax (a tie goes to the lower level), two 4-bit codes per byte, the
 * earlier weight in the high nibble as bitsandbytes packs them. A last partial block is padded with zeros.
 * Packing and unpacking are libtorch ops over the whole matrix. DJL has no bitwise ops: packing joins the nibbles as
 * 16 hi + lo, and unpacking looks each byte up in a 256-row table of its two levels, one gather for two weights.
 */
final class Nf4Blocks implements PackedTensor {
    static final int BLOCK = 64;

    /** The two levels each code byte stands for, one row a byte value: its high nibble's, then its low nibble's. */
    private static final float[] LEVEL_PAIRS = levelPairs();

    private final NDArray codes;
    private final NDArray absmax;
    private final Shape shape;

    private Nf4Blocks(NDArray codes, NDArray absmax, Shape shape) {
        this.codes = codes;
        this.absmax = absmax;
        this.shape = shape;
    }

    private static float[] levelPairs() {
        float[] out = new float[512];
        for (int b = 0; b < 256; b++) {
            out[2 * b] = NormalFloat4.LEVELS[b >> 4];
            out[2 * b + 1] = NormalFloat4.LEVELS[b & 15];
        }
        return out;
    }

    /** {@code w} quantised; the new arrays belong to {@code w}'s manager, {@code w} is left open. */
    static Nf4Blocks of(NDArray w) {
        NDManager owner = w.getManager();
        long count = w.size();
        long blocks = (count + BLOCK - 1) / BLOCK;
        try (NDManager scratch = owner.newSubManager()) {
            NDArray flat = w.get(scratch, new NDIndex("...")).toType(DataType.FLOAT32, false).reshape(count);
            if (blocks * BLOCK > count) {
                flat = flat.concat(scratch.zeros(new Shape(blocks * BLOCK - count), DataType.FLOAT32));
            }
            NDArray grouped = flat.reshape(blocks, BLOCK);
            NDArray scale = grouped.abs().max(new int[] {1});
            NDArray divisor = scale.add(scale.eq(0).toType(DataType.FLOAT32, false));    // 1 for an all-zero block
            NDArray normalized = grouped.div(divisor.expandDims(1));
            NDArray code = scratch.zeros(normalized.getShape(), DataType.FLOAT32);
            for (float midpoint : NormalFloat4.MIDPOINTS) {
                // closed at once: kept until scratch closes, the 15 comparisons would hold ~20 copies of the weight
                try (NDArray above = normalized.gt(midpoint); NDArray one = above.toType(DataType.FLOAT32, false)) {
                    code.addi(one);
                }
            }
            NDArray pairs = code.reshape(blocks * BLOCK / 2, 2);
            NDArray bytes = pairs.get(":, 0").mul(16).add(pairs.get(":, 1")).toType(DataType.UINT8, false);
            bytes.attach(owner);
            scale.attach(owner);
            return new Nf4Blocks(bytes, scale, w.getShape());
        }
    }

    @Override
    public Shape shape() {
        return shape;
    }

    @Override
    public NDArray unpack(NDManager manager, DataType dtype) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray index = codes.get(scratch, new NDIndex("...")).toType(DataType.INT64, false);
            NDArray values = scratch.create(LEVEL_PAIRS, new Shape(256, 2)).get(index).reshape(-1, BLOCK)
                    .mul(absmax.get(scratch, new NDIndex("...")).expandDims(1)).reshape(-1);
            NDArray w = (values.size() > shape.size() ? values.get("0:" + shape.size()) : values).reshape(shape);
            NDArray out = w.toType(dtype, false);
            out.attach(manager);
            return out;
        }
    }

    @Override
    public long bytes() {
        return codes.size() + 4 * absmax.size();
    }

    @Override
    public String kind() {
        return "nf4";
    }

    /** The packed codes, two per byte, for tests. */
    byte[] packedCodes() {
        return codes.toByteArray();
    }

    /** The absmax of each block, for tests. */
    float[] blockScales() {
        return absmax.toFloatArray();
    }

    @Override
    public void close() {
        codes.close();
        absmax.close();
    }
}
