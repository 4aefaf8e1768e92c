package dev.sparktune.eval;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * BLEU (Papineni et al., 2002) as sacreBLEU 2.x computes it ({@code sacrebleu/metrics/bleu.py}): clipped n-gram
 * matches summed over the corpus, the reference length closest to each hypothesis (the shorter one on a tie), the
 * brevity penalty {@code exp(1 - r/c)} and the geometric mean of the n-gram precisions, on a 0-100 scale. Several
 * references per hypothesis clip each n-gram by its largest count in any one of them.
 *
 * <p>{@link #corpus()} is {@code sacrebleu.corpus_bleu} with its defaults (13a tokenizer, smoothing 'exp', order 4,
 * no effective order); {@link #sentence()} is {@code sacrebleu.sentence_bleu} (the same with effective order on).
 * Smoothing follows Chen and Cherry (2014), "A Systematic Comparison of Smoothing Techniques for Sentence-Level
 * BLEU": 'floor' is method 1, 'add-k' method 2, 'exp' method 3 (the NIST smoothing of mteval-v13a.pl).
 */
public record Bleu(Tokenizer tokenizer, Smoothing smoothing, double smoothValue, int maxOrder, boolean effectiveOrder) {

    /** sacreBLEU's {@code tokenize='13a'} (mteval-v13a.pl, the WMT standard) or {@code 'none'} (split on spaces). */
    public enum Tokenizer { MTEVAL_13A, NONE }

    public enum Smoothing {
        NONE(Double.NaN), FLOOR(0.1), ADD_K(1), EXP(Double.NaN);

        /** sacreBLEU's {@code SMOOTH_DEFAULTS}, used when the smoothing value is NaN. */
        final double defaultValue;

        Smoothing(double defaultValue) {
            this.defaultValue = defaultValue;
        }
    }

    /** sacreBLEU floors log(0) to this instead of minus infinity ({@code sacrebleu.utils.my_log}). */
    private static final double LOG_ZERO = -9999999999.0;

    public Bleu {
        if (maxOrder < 1) {
            throw new IllegalArgumentException("maxOrder must be at least 1, got " + maxOrder);
        }
    }

    /** {@code sacrebleu.corpus_bleu} / {@code BLEU()} defaults. */
    public static Bleu corpus() {
        return new Bleu(Tokenizer.MTEVAL_13A, Smoothing.EXP, Double.NaN, 4, false);
    }

    /** {@code sacrebleu.sentence_bleu} defaults: smoothing 'exp' with effective order. */
    public static Bleu sentence() {
        return new Bleu(Tokenizer.MTEVAL_13A, Smoothing.EXP, Double.NaN, 4, true);
    }

    /**
     * A BLEU score with its sufficient statistics. {@code counts} and {@code totals} are the matched and the
     * hypothesis n-grams per order (before add-k smoothing), {@code precisions} in percent.
     */
    public record Score(double score, long[] counts, long[] totals, double[] precisions, double bp, long sysLen,
            long refLen) {
        /** Hypothesis length over reference length, 0 when there is no reference token. */
        public double ratio() {
            return refLen == 0 ? 0 : (double) sysLen / refLen;
        }
    }

    /**
     * Corpus BLEU. {@code referenceStreams} has sacreBLEU's shape: one list per reference set, each as long as
     * {@code hypotheses}; stream {@code k} holds the k-th reference of every hypothesis.
     */
    public Score corpusScore(List<String> hypotheses, List<List<String>> referenceStreams) {
        ReferenceStreams.requireAligned(hypotheses, referenceStreams);
        long[] stats = new long[2 + 2 * maxOrder];
        for (int i = 0; i < hypotheses.size(); i++) {
            long[] segment = segmentStatistics(hypotheses.get(i), ReferenceStreams.column(referenceStreams, i));
            for (int k = 0; k < stats.length; k++) {
                stats[k] += segment[k];
            }
        }
        return fromStatistics(stats);
    }

    /** BLEU of one hypothesis against its references. */
    public Score sentenceScore(String hypothesis, List<String> references) {
        return fromStatistics(segmentStatistics(hypothesis, references));
    }

    /**
     * The score of summed {@link #segmentStatistics}: what {@link #corpusScore} computes, for statistics added up
     * elsewhere (across the ranks of a validation).
     */
    public Score fromStatistics(long[] stats) {
        return compute(Arrays.copyOfRange(stats, 2, 2 + maxOrder), Arrays.copyOfRange(stats, 2 + maxOrder, stats.length),
                stats[0], stats[1]);
    }

    /**
     * The score from summed statistics ({@code BLEU.compute_bleu}): brevity penalty, then per order the precision
     * {@code 100 * correct / total}, smoothed where no n-gram matched, then {@code bp * exp(mean log p)} over the
     * orders counted (all of them, or with effective order only those the hypothesis has n-grams for).
     */
    public Score compute(long[] correct, long[] total, long sysLen, long refLen) {
        double bp = 1.0;
        if (sysLen < refLen) {
            bp = sysLen > 0 ? Math.exp(1 - (double) refLen / sysLen) : 0.0;
        }
        double[] precisions = new double[maxOrder];
        if (Arrays.stream(correct).allMatch(c -> c == 0)) {
            return new Score(0.0, correct, total, precisions, bp, sysLen, refLen);
        }
        double value = Double.isNaN(smoothValue) ? smoothing.defaultValue : smoothValue;
        double smoothMteval = 1.0;
        int order = maxOrder;
        for (int n = 1; n <= maxOrder; n++) {
            double matched = correct[n - 1];
            double guessed = total[n - 1];
            if (smoothing == Smoothing.ADD_K && n > 1) {
                matched += value;
                guessed += value;
            }
            if (guessed == 0) {
                break;
            }
            if (effectiveOrder) {
                order = n;
            }
            if (matched == 0) {
                if (smoothing == Smoothing.EXP) {
                    smoothMteval *= 2;
                    precisions[n - 1] = 100.0 / (smoothMteval * guessed);
                } else if (smoothing == Smoothing.FLOOR) {
                    precisions[n - 1] = 100.0 * value / guessed;
                }
            } else {
                precisions[n - 1] = 100.0 * matched / guessed;
            }
        }
        double logSum = 0;
        for (int n = 0; n < order; n++) {
            logSum += precisions[n] == 0.0 ? LOG_ZERO : Math.log(precisions[n]);
        }
        return new Score(bp * Math.exp(logSum / order), correct, total, precisions, bp, sysLen, refLen);
    }

    /** {@code [hyp_len, ref_len, correct_1..N, total_1..N]} for one segment, as sacreBLEU's segment statistics. */
    public long[] segmentStatistics(String hypothesis, List<String> references) {
        Map<String, Integer> refMax = new HashMap<>();
        int[] refLens = new int[references.size()];
        for (int r = 0; r < references.size(); r++) {
            List<String> tokens = PythonWhitespace.split(tokenize(references.get(r)));
            refLens[r] = tokens.size();
            ngrams(tokens).forEach((ngram, count) -> refMax.merge(ngram, count, Math::max));
        }
        List<String> hypTokens = PythonWhitespace.split(tokenize(hypothesis));
        int hypLen = hypTokens.size();
        long[] stats = new long[2 + 2 * maxOrder];
        stats[0] = hypLen;
        stats[1] = closestReferenceLength(hypLen, refLens);
        ngrams(hypTokens).forEach((ngram, count) -> {
            int n = ngram.split(" ", -1).length;
            stats[1 + maxOrder + n] += count;
            stats[1 + n] += Math.min(count, refMax.getOrDefault(ngram, 0));
        });
        return stats;
    }

    private static int closestReferenceLength(int hypLen, int[] refLens) {
        int closestDiff = -1;
        int closestLen = -1;
        for (int refLen : refLens) {
            int diff = Math.abs(hypLen - refLen);
            if (closestDiff == -1 || diff < closestDiff) {
                closestDiff = diff;
                closestLen = refLen;
            } else if (diff == closestDiff && refLen < closestLen) {
                closestLen = refLen;
            }
        }
        return closestLen;
    }

    /** All 1..maxOrder-grams of a token list, each joined by single spaces, with their counts. */
    private Map<String, Integer> ngrams(List<String> tokens) {
        Map<String, Integer> counts = new HashMap<>();
        for (int n = 1; n <= maxOrder; n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                counts.merge(String.join(" ", tokens.subList(i, i + n)), 1, Integer::sum);
            }
        }
        return counts;
    }

    private String tokenize(String segment) {
        String stripped = PythonWhitespace.rstrip(segment);
        return tokenizer == Tokenizer.MTEVAL_13A ? tokenize13a(stripped) : stripped;
    }

    // mteval-v13a.pl's tokenizer as sacreBLEU's Tokenizer13a + TokenizerRegexp apply it.
    private static final Pattern PUNCTUATION = Pattern.compile("([\\{-~\\[-` -&\\(-+:-@/])");
    private static final Pattern PERIOD_COMMA_AFTER_NON_DIGIT = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE_NON_DIGIT = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern DASH_AFTER_DIGIT = Pattern.compile("([0-9])(-)");

    /**
     * The 13a tokenization: drop {@code <skipped>} and hyphenated line breaks, unescape four HTML entities, then
     * split off punctuation and symbols, periods and commas not inside a number, and a dash after a digit.
     */
    public static String tokenize13a(String line) {
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
        if (line.contains("&")) {
            line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
        }
        line = " " + line + " ";
        line = PUNCTUATION.matcher(line).replaceAll(" $1 ");
        line = PERIOD_COMMA_AFTER_NON_DIGIT.matcher(line).replaceAll("$1 $2 ");
        line = PERIOD_COMMA_BEFORE_NON_DIGIT.matcher(line).replaceAll(" $1 $2");
        line = DASH_AFTER_DIGIT.matcher(line).replaceAll("$1 $2 ");
        return String.join(" ", PythonWhitespace.split(line));
    }
}
