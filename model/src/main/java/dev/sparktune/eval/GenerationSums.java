package dev.sparktune.eval;

import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The generation metrics of a corpus kept as sums that can be added across processes: for each (completion,
 * reference) pair its BLEU and chrF segment statistics (whose sums give sacreBLEU's corpus scores), its rouge-score
 * F-measures (whose mean is rouge-score's aggregate) and whether it matches exactly. Validation during training adds
 * them up over its ranks' shares with one all-reduce and then reads the same numbers {@code sparktune eval} reports.
 */
public final class GenerationSums {
    private static final Bleu BLEU = Bleu.corpus();
    private static final ChrF CHRF = ChrF.defaults();
    private static final int BLEU_STATS = 2 + 2 * BLEU.maxOrder();
    private static final int CHRF_STATS = 3 * CHRF.charOrder();
    /** Pairs, exact matches, BLEU statistics, chrF statistics, one F-measure sum per ROUGE type. */
    public static final int LENGTH = 2 + BLEU_STATS + CHRF_STATS + Rouge.TYPES.size();

    private final Rouge rouge = new Rouge(false);
    private final double[] sums = new double[LENGTH];

    /** Adds one completion and its reference. */
    public void add(String completion, String reference) {
        sums[0]++;
        if (completion.equals(reference)) {
            sums[1]++;
        }
        int at = 2;
        for (long v : BLEU.segmentStatistics(completion, List.of(reference))) {
            sums[at++] += v;
        }
        for (long v : CHRF.segmentStatistics(completion, List.of(reference))) {
            sums[at++] += v;
        }
        var scores = rouge.score(reference, completion);
        for (String type : Rouge.TYPES) {
            sums[at++] += scores.get(type).fmeasure();
        }
    }

    /** The sums, to be added to other processes' and read back with {@link #metrics}. */
    public double[] values() {
        return sums.clone();
    }

    /**
     * The metrics {@code names} asks for from summed {@link #values}: {@code bleu} and {@code chrf} on sacreBLEU's
     * 0-100 scale, {@code rouge1} / {@code rouge2} / {@code rougeL} / {@code rougeLsum} mean F-measures (for
     * {@code rouge}), {@code exact_match} a share; empty when no pair was added.
     */
    public static SortedMap<String, Double> metrics(double[] summed, List<String> names) {
        SortedMap<String, Double> out = new TreeMap<>();
        double pairs = summed[0];
        if (pairs == 0) {
            return out;
        }
        if (names.contains("exact_match")) {
            out.put("exact_match", summed[1] / pairs);
        }
        int at = 2;
        if (names.contains("bleu")) {
            out.put("bleu", BLEU.fromStatistics(longs(summed, at, BLEU_STATS)).score());
        }
        at += BLEU_STATS;
        if (names.contains("chrf")) {
            out.put("chrf", CHRF.fromStatistics(longs(summed, at, CHRF_STATS)).score());
        }
        at += CHRF_STATS;
        if (names.contains("rouge")) {
            for (String type : Rouge.TYPES) {
                out.put(type, summed[at++] / pairs);
            }
        }
        return out;
    }

    private static long[] longs(double[] values, int from, int count) {
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            out[i] = Math.round(values[from + i]);
        }
        return out;
    }
}
