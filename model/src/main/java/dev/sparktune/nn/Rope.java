package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Rotary position embedding (Su et al., RoFormer) in Hugging Face's {@code rotate_half}
 * layout: the head dimension is split in two halves rather than interleaved pairs.
 *
 * @param inverseFrequencies {@code 1 / theta^(2i/d)} for i in [0, d/2), after any rope scaling
 */
public record Rope(double[] inverseFrequencies) {

    /** Plain RoPE: {@code theta^(-2i/d)}. */
    public static Rope standard(int headDim, double theta) {
        double[] inv = new double[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
        return new Rope(inv);
    }

    /**
     * Llama 3.1's {@code rope_type: llama3}: long wavelengths are divided by {@code factor},
     * short ones kept, and the band between is interpolated smoothly.
     */
    public static Rope llama3(int headDim, double theta, double factor, double lowFreqFactor,
                              double highFreqFactor, int originalMaxPositions) {
        double[] inv = standard(headDim, theta).inverseFrequencies();
        double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
        double highFreqWavelen = originalMaxPositions / highFreqFactor;
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = inv[i] / factor;
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
            }
        }
        return new Rope(inv);
    }

    /** cos and sin for each position, shaped [B, 1, T, d] to broadcast over heads. */
    public Tables tables(NDArray positionIds, DataType dtype) {
        DataType wide = dtype == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        NDArray inv = positionIds.getManager().create(inverseFrequencies).toType(wide, false);
        NDArray angles = positionIds.toType(wide, false).expandDims(-1).mul(inv);
        NDArray both = NDArrays.concat(new NDList(angles, angles), -1).expandDims(1);
        return new Tables(both.cos().toType(dtype, false), both.sin().toType(dtype, false));
    }

    /** Precomputed rotation for one forward pass. */
    public record Tables(NDArray cos, NDArray sin) {

        /** Rotates queries or keys shaped [B, heads, T, d]. */
        public NDArray apply(NDArray x) {
            return x.mul(cos).add(rotateHalf(x).mul(sin));
        }

        private static NDArray rotateHalf(NDArray x) {
            long half = x.getShape().get(x.getShape().dimension() - 1) / 2;
            NDArray first = x.get(new NDIndex("..., :{}", half));
            NDArray second = x.get(new NDIndex("..., {}:", half));
            return NDArrays.concat(new NDList(second.neg(), first), -1);
        }
    }
}
