package dev.sparktune.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Normalisation layers. */
public final class Norms {
    private Norms() {
    }

    /**
     * RMSNorm (Zhang and Sennrich, 2019) as Hugging Face's LlamaRMSNorm computes it: the mean
     * square in at least float32, then the weight applied in the input's dtype.
     */
    public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
        DataType dtype = x.getDataType();
        NDArray wide = dtype == DataType.FLOAT64 ? x : Casts.to(x, DataType.FLOAT32);
        NDArray meanSquare = wide.square().mean(new int[] {-1}, true);
        NDArray normalised = wide.div(meanSquare.add(eps).sqrt());    // no pow(-1): see Scalars
        // activations first: a result belongs to its first operand's NDManager (the step's, not the weights')
        return Casts.to(normalised, dtype).mul(weight);
    }

    /** LayerNorm (Ba et al., 2016) over the last axis, as BERT uses it. */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, double eps) {
        Shape last = new Shape(x.getShape().get(x.getShape().dimension() - 1));
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, last, weight, bias, (float) eps).singletonOrThrow();
    }
}
