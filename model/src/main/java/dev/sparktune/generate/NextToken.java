package dev.sparktune.generate;

import java.util.Arrays;
import java.util.Collection;
import java.util.Random;

/**
 * Picks one token from one row of logits, in Hugging Face's order: repetition penalty,
 * temperature, top-k, top-p, then argmax or a draw. Works in double on the JVM: one vector per
 * row per step is cheap next to the forward pass.
 */
public final class NextToken {
    private final GenerationConfig config;
    private final Random random;

    public NextToken(GenerationConfig config) {
        this.config = config;
        this.random = new Random(config.seed());
    }

    public long pick(float[] logits, Collection<Long> seen) {
        double[] scores = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            scores[i] = logits[i];
        }
        penaliseRepetition(scores, seen, config.repetitionPenalty());
        if (!config.doSample()) {
            return argmax(scores);
        }
        double[] p = probabilities(scores, config.temperature(), config.topK(), config.topP());
        double u = random.nextDouble();
        double cumulative = 0;
        for (int i = 0; i < p.length; i++) {
            cumulative += p[i];
            if (u < cumulative) {
                return i;
            }
        }
        return argmax(p);
    }

    /** CTRL's rule as Hugging Face applies it: a positive logit is divided by the penalty, a negative one multiplied. */
    static void penaliseRepetition(double[] scores, Collection<Long> seen, double penalty) {
        if (penalty == 1.0) {
            return;
        }
        for (long id : seen.stream().distinct().toList()) {
            int i = (int) id;
            scores[i] = scores[i] > 0 ? scores[i] / penalty : scores[i] * penalty;
        }
    }

    /** The sampling distribution after temperature, top-k and top-p; zero outside the kept set. */
    static double[] probabilities(double[] scores, double temperature, int topK, double topP) {
        int n = scores.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(scores[b], scores[a]));
        int keep = topK > 0 ? Math.min(topK, n) : n;

        double max = scores[order[0]] / temperature;
        double[] p = new double[n];
        double total = 0;
        for (int r = 0; r < keep; r++) {
            int i = order[r];
            p[i] = Math.exp(scores[i] / temperature - max);
            total += p[i];
        }
        if (topP < 1.0) {
            // keep the most likely tokens until their probability reaches top_p; always at least one
            double cumulative = 0;
            int r = 0;
            while (r < keep && cumulative < topP * total) {
                cumulative += p[order[r]];
                r++;
            }
            for (int drop = r; drop < keep; drop++) {
                p[order[drop]] = 0;
            }
            total = cumulative;
        }
        for (int i = 0; i < n; i++) {
            p[i] /= total;
        }
        return p;
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
