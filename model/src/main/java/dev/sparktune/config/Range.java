package dev.sparktune.config;

/** The values a numeric key accepts, with a description for error messages. */
record Range(double min, boolean minInclusive, double max, boolean maxInclusive) {

    static final Range ANY = new Range(Double.NEGATIVE_INFINITY, true, Double.POSITIVE_INFINITY, true);

    static Range atLeast(double min) {
        return new Range(min, true, Double.POSITIVE_INFINITY, true);
    }

    static Range above(double min) {
        return new Range(min, false, Double.POSITIVE_INFINITY, true);
    }

    static Range closed(double min, double max) {
        return new Range(min, true, max, true);
    }

    /** [min, max): for probabilities and ratios that must stay below one. */
    static Range closedOpen(double min, double max) {
        return new Range(min, true, max, false);
    }

    boolean contains(double v) {
        boolean aboveMin = minInclusive ? v >= min : v > min;
        boolean belowMax = maxInclusive ? v <= max : v < max;
        return aboveMin && belowMax;
    }

    String describe() {
        boolean bounded = max != Double.POSITIVE_INFINITY;
        if (!bounded) {
            return (minInclusive ? ">= " : "> ") + format(min);
        }
        return "in " + (minInclusive ? "[" : "(") + format(min) + ", " + format(max) + (maxInclusive ? "]" : ")");
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
