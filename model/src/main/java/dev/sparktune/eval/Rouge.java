package dev.sparktune.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum (Lin, 2004, "ROUGE: A Package for Automatic Evaluation of Summaries") as
 * Google's {@code rouge-score} computes them ({@code rouge/rouge_scorer.py}, {@code rouge/tokenize.py}), which
 * replicates ROUGE-1.5.5.pl ({@code -e data -n 2}, and {@code -m} with the stemmer).
 *
 * <p>Tokens: lower-cased text with every run of characters outside {@code [a-z0-9]} turned into a space (so
 * letters outside ASCII are dropped, as in rouge-score), optionally Porter-stemmed ({@link PorterStemmer}, only
 * tokens longer than 3 characters). ROUGE-N counts clipped n-gram overlaps; ROUGE-L uses the longest common
 * subsequence; ROUGE-Lsum is the summary-level LCS of section 3.2 of the paper over sentences separated by
 * {@code "\n"}, counting each token at most as often as it occurs (as 1.5.5 does). F is the harmonic mean.
 */
public final class Rouge {

    public static final List<String> TYPES = List.of("rouge1", "rouge2", "rougeL", "rougeLsum");

    public record Score(double precision, double recall, double fmeasure) {
        static Score of(double precision, double recall) {
            double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
            return new Score(precision, recall, f);
        }
    }

    private static final Score ZERO = new Score(0, 0, 0);
    private static final Pattern NON_ALPHANUMERIC = Pattern.compile("[^a-z0-9]+");

    private final boolean useStemmer;

    public Rouge(boolean useStemmer) {
        this.useStemmer = useStemmer;
    }

    /** rouge-score's {@code RougeScorer(TYPES, use_stemmer).score(target, prediction)}. */
    public Map<String, Score> score(String target, String prediction) {
        List<String> targetTokens = tokenize(target);
        List<String> predictionTokens = tokenize(prediction);
        Map<String, Score> result = new LinkedHashMap<>();
        result.put("rouge1", ngramScore(targetTokens, predictionTokens, 1));
        result.put("rouge2", ngramScore(targetTokens, predictionTokens, 2));
        result.put("rougeL", lcsScore(targetTokens, predictionTokens));
        result.put("rougeLsum", summaryLevelLcs(sentences(target), sentences(prediction)));
        return result;
    }

    /** {@code score_multi}: per ROUGE type, the score against the target with the highest F (the first on ties). */
    public Map<String, Score> scoreMulti(List<String> targets, String prediction) {
        Map<String, Score> best = new LinkedHashMap<>();
        for (String target : targets) {
            score(target, prediction).forEach((type, s) -> best.merge(type, s, (a, b) -> b.fmeasure > a.fmeasure ? b : a));
        }
        return best;
    }

    /**
     * The mean over a corpus of each type's precision, recall and F, every prediction scored with
     * {@link #scoreMulti} against its references ({@code referenceStreams} as in {@link Bleu#corpusScore}). This is
     * the quantity rouge-score's {@code BootstrapAggregator} estimates as its "mid" value, without the resampling.
     */
    public Map<String, Score> corpusMean(List<String> predictions, List<List<String>> referenceStreams) {
        ReferenceStreams.requireAligned(predictions, referenceStreams);
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (int i = 0; i < predictions.size(); i++) {
            scoreMulti(ReferenceStreams.column(referenceStreams, i), predictions.get(i)).forEach((type, s) -> {
                double[] sum = sums.computeIfAbsent(type, t -> new double[3]);
                sum[0] += s.precision;
                sum[1] += s.recall;
                sum[2] += s.fmeasure;
            });
        }
        Map<String, Score> means = new LinkedHashMap<>();
        int n = predictions.size();
        for (String type : TYPES) {
            double[] sum = sums.getOrDefault(type, new double[3]);
            means.put(type, n == 0 ? ZERO : new Score(sum[0] / n, sum[1] / n, sum[2] / n));
        }
        return means;
    }

    /** rouge-score's default tokenizer. */
    public List<String> tokenize(String text) {
        String cleaned = NON_ALPHANUMERIC.matcher(text.toLowerCase(Locale.ROOT)).replaceAll(" ");
        List<String> tokens = new ArrayList<>();
        for (String token : cleaned.split(" ")) {
            if (!token.isEmpty()) {
                tokens.add(useStemmer && token.length() > 3 ? PorterStemmer.stem(token) : token);
            }
        }
        return tokens;
    }

    private List<List<String>> sentences(String text) {
        List<List<String>> sentences = new ArrayList<>();
        for (String line : text.split("\n", -1)) {
            if (!line.isEmpty()) {
                sentences.add(tokenize(line));
            }
        }
        return sentences;
    }

    private static Score ngramScore(List<String> target, List<String> prediction, int n) {
        Map<String, Integer> targetNgrams = ngrams(target, n);
        Map<String, Integer> predictionNgrams = ngrams(prediction, n);
        long overlap = 0;
        for (Map.Entry<String, Integer> e : targetNgrams.entrySet()) {
            overlap += Math.min(e.getValue(), predictionNgrams.getOrDefault(e.getKey(), 0));
        }
        long targetCount = Math.max(1, Math.max(0, target.size() - n + 1));
        long predictionCount = Math.max(1, Math.max(0, prediction.size() - n + 1));
        return Score.of((double) overlap / predictionCount, (double) overlap / targetCount);
    }

    private static Map<String, Integer> ngrams(List<String> tokens, int n) {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i + n <= tokens.size(); i++) {
            counts.merge(String.join(" ", tokens.subList(i, i + n)), 1, Integer::sum);
        }
        return counts;
    }

    private static Score lcsScore(List<String> target, List<String> prediction) {
        if (target.isEmpty() || prediction.isEmpty()) {
            return ZERO;
        }
        int lcs = lcsTable(target, prediction)[target.size()][prediction.size()];
        return Score.of((double) lcs / prediction.size(), (double) lcs / target.size());
    }

    private static int[][] lcsTable(List<String> ref, List<String> can) {
        int[][] table = new int[ref.size() + 1][can.size() + 1];
        for (int i = 1; i <= ref.size(); i++) {
            for (int j = 1; j <= can.size(); j++) {
                table[i][j] = ref.get(i - 1).equals(can.get(j - 1))
                        ? table[i - 1][j - 1] + 1 : Math.max(table[i - 1][j], table[i][j - 1]);
            }
        }
        return table;
    }

    /** Indices into {@code ref} of one LCS, read back from the table the way rouge-score's backtrack does. */
    private static List<Integer> lcsIndices(List<String> ref, List<String> can) {
        int[][] table = lcsTable(ref, can);
        List<Integer> indices = new ArrayList<>();
        int i = ref.size();
        int j = can.size();
        while (i > 0 && j > 0) {
            if (ref.get(i - 1).equals(can.get(j - 1))) {
                indices.add(0, i - 1);
                i--;
                j--;
            } else if (table[i][j - 1] > table[i - 1][j]) {
                j--;
            } else {
                i--;
            }
        }
        return indices;
    }

    /**
     * Summary-level LCS: for each reference sentence the union of its LCS with every candidate sentence; a hit
     * uses up one occurrence of the token on both sides, so no token counts more often than it occurs.
     */
    private static Score summaryLevelLcs(List<List<String>> refSentences, List<List<String>> canSentences) {
        if (refSentences.isEmpty() || canSentences.isEmpty()) {
            return ZERO;
        }
        int m = refSentences.stream().mapToInt(List::size).sum();
        int n = canSentences.stream().mapToInt(List::size).sum();
        if (m == 0 || n == 0) {
            return ZERO;
        }
        Map<String, Integer> refCounts = new HashMap<>();
        Map<String, Integer> canCounts = new HashMap<>();
        refSentences.forEach(s -> s.forEach(t -> refCounts.merge(t, 1, Integer::sum)));
        canSentences.forEach(s -> s.forEach(t -> canCounts.merge(t, 1, Integer::sum)));
        int hits = 0;
        for (List<String> ref : refSentences) {
            TreeSet<Integer> union = new TreeSet<>();
            for (List<String> can : canSentences) {
                union.addAll(lcsIndices(ref, can));
            }
            for (int index : union) {
                String token = ref.get(index);
                if (canCounts.getOrDefault(token, 0) > 0 && refCounts.getOrDefault(token, 0) > 0) {
                    hits++;
                    canCounts.merge(token, -1, Integer::sum);
                    refCounts.merge(token, -1, Integer::sum);
                }
            }
        }
        return Score.of((double) hits / n, (double) hits / m);
    }
}
