package dev.sparktune.dedup;

/**
 * How a MinHash signature of {@code numPerm} values is cut into {@code bands} bands of {@code rows} values for
 * locality-sensitive hashing. Two rows with Jaccard similarity s share at least one band bucket with probability
 * 1 - (1 - s^rows)^bands; the split is the one that minimises the summed false-positive and false-negative
 * probability mass around the threshold, as datasketch's {@code MinHashLSH} chooses it (equal weights).
 */
public record LshBands(int bands, int rows) implements java.io.Serializable {
    private static final int STEPS = 200;
    private static final double FALSE_POSITIVE_WEIGHT = 0.1;
    private static final double FALSE_NEGATIVE_WEIGHT = 0.9;

    public static LshBands forThreshold(double threshold, int numPerm) {
        LshBands best = null;
        double bestError = Double.MAX_VALUE;
        for (int b = 1; b <= numPerm; b++) {
            for (int r = 1; r * b <= numPerm; r++) {
                double error = FALSE_POSITIVE_WEIGHT * integrate(0, threshold, b, r, true)
                        + FALSE_NEGATIVE_WEIGHT * integrate(threshold, 1, b, r, false);
                if (error < bestError) {
                    bestError = error;
                    best = new LshBands(b, r);
                }
            }
        }
        return best;
    }

    /** The probability that two rows with Jaccard similarity {@code s} become candidates. */
    public double candidateProbability(double s) {
        return 1 - Math.pow(1 - Math.pow(s, rows), bands);
    }

    private static double integrate(double from, double to, int b, int r, boolean falsePositive) {
        double h = (to - from) / STEPS;
        double sum = 0;
        for (int i = 0; i < STEPS; i++) {
            double s = from + (i + 0.5) * h;
            double p = 1 - Math.pow(1 - Math.pow(s, r), b);
            sum += falsePositive ? p : 1 - p;
        }
        return sum * h;
    }
}
