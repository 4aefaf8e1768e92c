package dev.sparktune.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Compares PyTorch's backward through our functions with central finite differences, in
 * float64. The scalar checked is {@code sum(f(params) * R)} for a fixed random R, so the
 * whole Jacobian-vector product is covered, not just a sum.
 */
public final class GradientCheck {
    private static final double STEP = 1e-5;
    private static final double MAX_RELATIVE_ERROR = 1e-6;
    /** Gradients below this are compared absolutely: a relative error of a near-zero number means nothing. */
    private static final double SCALE_FLOOR = 1e-3;
    private static final int ELEMENTS_PER_TENSOR = 12;

    private final Map<String, double[]> values = new LinkedHashMap<>();
    private final Map<String, Shape> shapes = new LinkedHashMap<>();
    private final Random random;

    public GradientCheck(long seed) {
        this.random = new Random(seed);
    }

    /** A float64 parameter with standard-normal values times {@code scale}. */
    public GradientCheck param(String name, Shape shape, double scale) {
        double[] v = new double[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * random.nextGaussian();
        }
        return param(name, shape, v);
    }

    public GradientCheck param(String name, Shape shape, double[] v) {
        values.put(name, v.clone());
        shapes.put(name, shape);
        return this;
    }

    /** Checks d/dparam of sum(f(params) * R) for every parameter against finite differences; returns the worst error. */
    public double check(Function<Map<String, NDArray>, NDArray> f) {
        double[] projection;
        Map<String, double[]> analytic = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> params = create(m, values);
            params.values().forEach(p -> p.setRequiresGradient(true));
            NDArray out;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                out = f.apply(params);
                projection = randomProjection(out.getShape());
                NDArray loss = out.mul(m.create(projection, out.getShape())).sum();
                collector.backward(loss);
            }
            params.forEach((name, p) -> analytic.put(name, p.getGradient().toDoubleArray()));
        }

        double worst = 0;
        for (String name : values.keySet()) {
            double[] v = values.get(name);
            for (int n = 0; n < Math.min(ELEMENTS_PER_TENSOR, v.length); n++) {
                int i = v.length <= ELEMENTS_PER_TENSOR ? n : random.nextInt(v.length);
                double original = v[i];
                v[i] = original + STEP;
                double plus = projectedLoss(f, projection);
                v[i] = original - STEP;
                double minus = projectedLoss(f, projection);
                v[i] = original;
                double numeric = (plus - minus) / (2 * STEP);
                double exact = analytic.get(name)[i];
                double error = Math.abs(exact - numeric) / Math.max(SCALE_FLOOR, Math.max(Math.abs(exact), Math.abs(numeric)));
                assertTrue(error <= MAX_RELATIVE_ERROR, name + "[" + i + "]: backward " + exact
                        + ", finite difference " + numeric + ", relative error " + error);
                worst = Math.max(worst, error);
            }
        }
        return worst;
    }

    private double projectedLoss(Function<Map<String, NDArray>, NDArray> f, double[] projection) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray out = f.apply(create(m, values));
            return out.mul(m.create(projection, out.getShape())).sum().getDouble();
        }
    }

    private double[] randomProjection(Shape shape) {
        Random r = new Random(shape.size());
        double[] p = new double[(int) shape.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = r.nextGaussian();
        }
        return p;
    }

    private Map<String, NDArray> create(NDManager m, Map<String, double[]> source) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        source.forEach((name, v) -> out.put(name, m.create(v, shapes.get(name))));
        out.values().forEach(a -> {
            if (a.getDataType() != DataType.FLOAT64) {
                throw new IllegalStateException("gradient checks run in float64");
            }
        });
        return out;
    }
}
