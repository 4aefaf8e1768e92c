package dev.sparktune.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * chrF (Popović, 2015, "chrF: character n-gram F-score for automatic MT evaluation") as sacreBLEU 2.x computes it
 * ({@code sacrebleu/metrics/chrf.py}) with word order 0: character n-grams of orders 1..{@code charOrder} (6),
 * whitespace removed first, F-beta with beta = 2 on a 0-100 scale. Per segment the reference giving the best F is
 * kept; the corpus score is computed from the summed statistics.
 *
 * <p>By default the per-order precisions and recalls are averaged over the orders where both hypothesis and
 * reference have n-grams, and one F is taken of the averages (sacreBLEU's default, {@code eps_smoothing=False});
 * with {@code epsSmoothing} the per-order F scores are averaged instead, missing orders counting as 1e-16 (chrF++.py,
 * Moses and NLTK).
 */
public record ChrF(int charOrder, double beta, boolean keepWhitespace, boolean epsSmoothing) {

    private static final double EPS = 1e-16;

    public ChrF {
        if (charOrder < 1) {
            throw new IllegalArgumentException("charOrder must be at least 1, got " + charOrder);
        }
    }

    /** {@code sacrebleu.metrics.CHRF()} defaults: chrF2, 6-grams, whitespace removed, effective-order averaging. */
    public static ChrF defaults() {
        return new ChrF(6, 2, false, false);
    }

    /** The score in 0-100 with the settings that name it ({@code chrF2} for beta 2). */
    public record Score(double score, int charOrder, int wordOrder, double beta) {
        public String name() {
            return "chrF" + (beta == Math.rint(beta) ? String.valueOf((long) beta) : String.valueOf(beta));
        }
    }

    /** Corpus chrF; {@code referenceStreams} as in {@link Bleu#corpusScore}. */
    public Score corpusScore(List<String> hypotheses, List<List<String>> referenceStreams) {
        ReferenceStreams.requireAligned(hypotheses, referenceStreams);
        long[] stats = new long[3 * charOrder];
        for (int i = 0; i < hypotheses.size(); i++) {
            long[] segment = segmentStatistics(hypotheses.get(i), ReferenceStreams.column(referenceStreams, i));
            for (int k = 0; k < stats.length; k++) {
                stats[k] += segment[k];
            }
        }
        return new Score(fScore(stats), charOrder, 0, beta);
    }

    public Score sentenceScore(String hypothesis, List<String> references) {
        return new Score(fScore(segmentStatistics(hypothesis, references)), charOrder, 0, beta);
    }

    /**
     * The score of summed {@link #segmentStatistics}: what {@link #corpusScore} computes, for statistics added up
     * elsewhere (across the ranks of a validation).
     */
    public Score fromStatistics(long[] stats) {
        return new Score(fScore(stats), charOrder, 0, beta);
    }

    /** Per order {@code [hypothesis n-grams, reference n-grams, matches]} against the best-scoring reference. */
    public long[] segmentStatistics(String hypothesis, List<String> references) {
        List<Map<String, Integer>> hyp = charNgrams(hypothesis);
        long[] best = new long[3 * charOrder];
        double bestF = -1;
        for (String reference : references) {
            List<Map<String, Integer>> ref = charNgrams(reference);
            long[] stats = new long[3 * charOrder];
            for (int n = 0; n < charOrder; n++) {
                long hypCount = 0;
                long matches = 0;
                for (Map.Entry<String, Integer> e : hyp.get(n).entrySet()) {
                    hypCount += e.getValue();
                    matches += Math.min(e.getValue(), ref.get(n).getOrDefault(e.getKey(), 0));
                }
                // an order the reference has no n-grams of counts no hypothesis n-grams either
                stats[3 * n] = ref.get(n).isEmpty() ? 0 : hypCount;
                stats[3 * n + 1] = ref.get(n).values().stream().mapToLong(Integer::longValue).sum();
                stats[3 * n + 2] = matches;
            }
            double f = fScore(stats);
            if (f > bestF) {
                bestF = f;
                best = stats;
            }
        }
        return best;
    }

    private double fScore(long[] stats) {
        double factor = beta * beta;
        double epsScore = 0;
        double avgPrecision = 0;
        double avgRecall = 0;
        int effectiveOrder = 0;
        for (int n = 0; n < charOrder; n++) {
            long hyp = stats[3 * n];
            long ref = stats[3 * n + 1];
            long match = stats[3 * n + 2];
            double precision = hyp > 0 ? (double) match / hyp : EPS;
            double recall = ref > 0 ? (double) match / ref : EPS;
            double denominator = factor * precision + recall;
            epsScore += denominator > 0 ? (1 + factor) * precision * recall / denominator : EPS;
            if (hyp > 0 && ref > 0) {
                avgPrecision += precision;
                avgRecall += recall;
                effectiveOrder++;
            }
        }
        if (epsSmoothing) {
            return 100 * epsScore / charOrder;
        }
        if (effectiveOrder == 0) {
            return 0.0;
        }
        avgPrecision /= effectiveOrder;
        avgRecall /= effectiveOrder;
        if (avgPrecision + avgRecall == 0) {
            return 0.0;
        }
        double score = (1 + factor) * avgPrecision * avgRecall;
        score /= factor * avgPrecision + avgRecall;
        return 100 * score;
    }

    /** Character n-gram counts per order 1..charOrder, over code points. */
    private List<Map<String, Integer>> charNgrams(String line) {
        String text = keepWhitespace ? line : String.join("", PythonWhitespace.split(line));
        int[] cps = text.codePoints().toArray();
        List<Map<String, Integer>> orders = new ArrayList<>(charOrder);
        for (int n = 1; n <= charOrder; n++) {
            Map<String, Integer> counts = new HashMap<>();
            for (int i = 0; i + n <= cps.length; i++) {
                counts.merge(new String(cps, i, n), 1, Integer::sum);
            }
            orders.add(counts);
        }
        return orders;
    }
}
