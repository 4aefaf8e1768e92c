package dev.sparktune.train;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** The console line a run prints as it trains: {@code step 120/1000 | loss 1.2345 | lr 2.0e-05 | 1,234 tok/s | ETA 12m03s}. */
public final class ProgressLine {
    private ProgressLine() {
    }

    /** With {@code eta} empty (before the first step is timed) the line ends {@code ETA --}. */
    public static String format(long step, long totalSteps, double loss, double learningRate, double tokensPerSecond,
            Optional<Duration> eta) {
        return String.format(Locale.ROOT, "step %d/%d | loss %.4f | lr %.1e | %,d tok/s | ETA %s",
                step, totalSteps, loss, learningRate, Math.round(tokensPerSecond), eta.map(ProgressLine::duration).orElse("--"));
    }

    /**
     * The console line of a validation: {@code validation 1.3100 | cls accuracy 0.7500 f1 0.7033 loss 1.2000 | sft
     * loss 1.4200 perplexity 4.1371}, from metrics named as {@link StepMetrics#validation()} names them.
     */
    public static String validation(Map<String, Double> metrics) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "validation %.4f", metrics.get("validation")));
        String task = null;
        for (Map.Entry<String, Double> e : new TreeMap<>(metrics).entrySet()) {
            String[] parts = e.getKey().split("/");
            if (parts.length != 3) {
                continue;       // the mean, "validation"
            }
            line.append(parts[1].equals(task) ? " " : " | " + parts[1] + " ");
            task = parts[1];
            line.append(String.format(Locale.ROOT, "%s %.4f", parts[2], e.getValue()));
        }
        return line.toString();
    }

    /** {@code 45s}, {@code 12m03s}, {@code 2h05m09s}; rounded to whole seconds. */
    static String duration(Duration d) {
        long seconds = Math.round(d.toMillis() / 1000.0);
        long h = seconds / 3600;
        long m = seconds % 3600 / 60;
        long s = seconds % 60;
        if (h > 0) {
            return String.format(Locale.ROOT, "%dh%02dm%02ds", h, m, s);
        }
        if (m > 0) {
            return String.format(Locale.ROOT, "%dm%02ds", m, s);
        }
        return s + "s";
    }
}
