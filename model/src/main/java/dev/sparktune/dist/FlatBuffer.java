package dev.sparktune.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * A flat float32 or float64 buffer that tensors are copied into and out of, and that collectives work on in place.
 * Float32 tensors travel as float[], float64 tensors (the equivalence tests' exact mode) as double[].
 */
final class FlatBuffer {
    private final float[] floats;
    private final double[] doubles;

    private FlatBuffer(float[] floats, double[] doubles) {
        this.floats = floats;
        this.doubles = doubles;
    }

    static FlatBuffer of(DataType type, int length) {
        return switch (type) {
            case FLOAT32 -> new FlatBuffer(new float[length], null);
            case FLOAT64 -> new FlatBuffer(null, new double[length]);
            default -> throw new IllegalArgumentException("data-parallel training works on float32 or float64 tensors, not "
                    + type + " (float16 ranks would need loss scaling, which is not built)");
        };
    }

    int length() {
        return floats != null ? floats.length : doubles.length;
    }

    long bytes() {
        return floats != null ? 4L * floats.length : 8L * doubles.length;
    }

    void clear() {
        if (floats != null) {
            Arrays.fill(floats, 0f);
        } else {
            Arrays.fill(doubles, 0d);
        }
    }

    /** {@code tensor}'s elements, flattened, into {@code [offset, offset + size)}. */
    void read(NDArray tensor, int offset) {
        if (floats != null) {
            float[] values = tensor.toFloatArray();
            System.arraycopy(values, 0, floats, offset, values.length);
        } else {
            double[] values = tensor.toDoubleArray();
            System.arraycopy(values, 0, doubles, offset, values.length);
        }
    }

    /** A new tensor in {@code manager} holding elements {@code [from, to)} with {@code shape}. */
    NDArray slice(NDManager manager, int from, int to, Shape shape) {
        return floats != null
                ? manager.create(Arrays.copyOfRange(floats, from, to), shape)
                : manager.create(Arrays.copyOfRange(doubles, from, to), shape);
    }

    /** Overwrites {@code tensor} in place with elements {@code [offset, offset + size)}. */
    void writeInto(NDArray tensor, int offset, NDManager scratch) {
        int size = Math.toIntExact(tensor.getShape().size());
        tensor.set(new NDIndex("..."), slice(scratch, offset, offset + size, tensor.getShape()));
    }

    /** In place over the first {@code length} elements. */
    void allReduce(Collective collective, int length) {
        if (floats != null) {
            collective.allReduce(floats, 0, length, Reduction.SUM);
        } else {
            collective.allReduce(doubles, 0, length, Reduction.SUM);
        }
    }


    /** In place over the first {@code length} elements. */
    void reduceScatter(Collective collective, int length) {
        if (floats != null) {
            collective.reduceScatter(floats, 0, length, Reduction.SUM);
        } else {
            collective.reduceScatter(doubles, 0, length, Reduction.SUM);
        }
    }


    /** In place over the first {@code length} elements. */
    void allGather(Collective collective, int length) {
        if (floats != null) {
            collective.allGather(floats, 0, length);
        } else {
            collective.allGather(doubles, 0, length);
        }
    }


    /** Copies {@code [from, to)} of {@code source} to the same place here. */
    void copyFrom(FlatBuffer source, int from, int to) {
        if (floats != null) {
            System.arraycopy(source.floats, from, floats, from, to - from);
        } else {
            System.arraycopy(source.doubles, from, doubles, from, to - from);
        }
    }

    /** Copies {@code [from, to)} of this buffer to {@code [at, ...)} of {@code target}. */
    void copyTo(int from, int to, FlatBuffer target, int at) {
        if (floats != null) {
            System.arraycopy(floats, from, target.floats, at, to - from);
        } else {
            System.arraycopy(doubles, from, target.doubles, at, to - from);
        }
    }

    double sumOfSquares(int from, int to) {
        double sum = 0;
        for (int i = from; i < to; i++) {
            double x = floats != null ? floats[i] : doubles[i];
            sum += x * x;
        }
        return sum;
    }

    boolean allFinite(int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Double.isFinite(floats != null ? floats[i] : doubles[i])) {
                return false;
            }
        }
        return true;
    }

    /** Multiplies {@code [from, to)} by {@code factor}, rounded to the buffer's precision as a tensor op would be. */
    void scale(int from, int to, double factor) {
        if (floats != null) {
            float f = (float) factor;
            for (int i = from; i < to; i++) {
                floats[i] *= f;
            }
        } else {
            for (int i = from; i < to; i++) {
                doubles[i] *= factor;
            }
        }
    }
}
