package dev.sparktune.quant;

/**
 * The 16 levels of 4-bit NormalFloat (NF4; Dettmers et al., 2023, "QLoRA", section 3), derived here rather than
 * copied: quantiles of N(0, 1), so that normally distributed weights fall equally often on each level, with an exact
 * zero. As bitsandbytes' {@code create_normal_map(offset=0.9677083, use_extra_value=True)}:
 * <pre>
 *   8 positive levels  Phi^-1(p) for p = offset + i (0.5 - offset) / 8, i = 0..7
 *   7 negative levels -Phi^-1(p) for p = offset + i (0.5 - offset) / 7, i = 0..6
 *   and 0; all divided by Phi^-1(offset), so they span [-1, 1]
 * </pre>
 * with {@code offset = 1 - (1/32 + 1/30) / 2}: the paper's estimate of the quantiles of the 2^k = 16 halves of the
 * two sides, with the outermost quantile pulled in from 1 (where Phi^-1 is infinite) by half a step of each side.
 */
public final class NormalFloat4 {
    /** The 16 levels, ascending: level 0 is -1, level 7 is 0, level 15 is 1. */
    static final float[] LEVELS = levels();
    /** Midpoints between neighbouring levels: a value above {@code MIDPOINTS[i]} is closer to level i + 1. */
    static final float[] MIDPOINTS = midpoints(LEVELS);

    private NormalFloat4() {
    }

    /** A copy of the levels, ascending. */
    public static float[] levels() {
        double offset = 1 - (1.0 / 32 + 1.0 / 30) / 2;
        double top = inverseNormalCdf(offset);
        float[] out = new float[16];
        for (int i = 0; i < 7; i++) {
            out[i] = (float) (-inverseNormalCdf(offset + i * (0.5 - offset) / 7) / top);
        }
        out[7] = 0;
        for (int i = 0; i < 8; i++) {
            out[15 - i] = (float) (inverseNormalCdf(offset + i * (0.5 - offset) / 8) / top);
        }
        return out;
    }

    private static float[] midpoints(float[] levels) {
        float[] out = new float[levels.length - 1];
        for (int i = 0; i < out.length; i++) {
            out[i] = (levels[i] + levels[i + 1]) / 2;
        }
        return out;
    }

    /** Phi^-1(p) for 0.5 <= p < 1, by bisection on {@link #normalCdf}: only used for the levels above. */
    static double inverseNormalCdf(double p) {
        double lo = 0;
        double hi = 10;
        for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
            double mid = (lo + hi) / 2;
            if (normalCdf(mid) < p) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return (lo + hi) / 2;
    }

    /**
     * Phi(x) = 1/2 + phi(x) (x + x^3/3 + x^5/(3*5) + ...) (Abramowitz and Stegun 26.2.11), all terms positive, so it
     * is accurate to double rounding for the |x| < 3 the levels need.
     */
    static double normalCdf(double x) {
        double term = x;
        double sum = x;
        for (int n = 1; n < 500 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
            term *= x * x / (2 * n + 1);
            sum += term;
        }
        return 0.5 + Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) * sum;
    }
}
