package dev.sparktune.train;

import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

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
