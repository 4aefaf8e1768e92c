package dev.sparktune.augment;

/**
 * The three EDA operations besides synonym replacement (Wei &amp; Zou 2019, "EDA: Easy Data Augmentation
 * Techniques"). Each rate is the paper's alpha: the operation is applied {@code max(1, round(alpha * words))}
 * times (swap, insert) or deletes each word with probability alpha; 0 turns an operation off.
 */
public record EdaOptions(double swapRate, double insertRate, double deleteRate) implements java.io.Serializable {
    public EdaOptions {
        check("swap", swapRate);
        check("insert", insertRate);
        check("delete", deleteRate);
    }

    public static EdaOptions defaults() {
        return new EdaOptions(0.1, 0.1, 0.1);
    }

    private static void check(String name, double rate) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("EDA " + name + " rate must be in [0, 1), got " + rate);
        }
    }
}
