package dev.sparktune.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Repeated measurements of one quantity: reported as the median and the range, never as one lucky run. */
public record Samples(double[] values) {

    public Samples {
        if (values.length == 0) {
            throw new IllegalArgumentException("no measurements");
        }
        values = values.clone();
        Arrays.sort(values);
    }

    public static Samples of(List<Double> values) {
        return new Samples(values.stream().mapToDouble(Double::doubleValue).toArray());
    }

    public double median() {
        int n = values.length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    public double min() {
        return values[0];
    }

    public double max() {
        return values[values.length - 1];
    }

    /** Each measurement mapped through {@code f}, e.g. seconds to a rate. */
    public Samples map(java.util.function.DoubleUnaryOperator f) {
        return new Samples(Arrays.stream(values).map(f).toArray());
    }

    /** "median (min–max)" with {@code format} for each number, e.g. "%.1f". */
    public String format(String format) {
        return String.format(Locale.ROOT, format + " (" + format + "–" + format + ")", median(), min(), max());
    }
}
