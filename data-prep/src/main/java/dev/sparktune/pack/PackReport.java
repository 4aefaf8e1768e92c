package dev.sparktune.pack;

import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The counts and token-length histogram of one tokenize run, for the job's {@code report.json}; stored beside the
 * output as {@code _stats.json}, so a reused output reports the same numbers.
 *
 * @param rowsIn                prepared rows read
 * @param rowsKept              rows tokenized (rowsIn = rowsKept + rowsRejected)
 * @param rowsRejected          rows that could not be tokenized, in {@code _rejected/}
 * @param validationRowsKept    rows of the validation split among rowsKept
 * @param testRowsKept          rows of the test split among rowsKept (the rest are training rows)
 * @param causalSamples         SFT and text samples (a text row longer than cutoff_len gives several)
 * @param classificationSamples classification samples (one per kept classification row)
 * @param tokens                tokens in all samples, before packing
 * @param samplesAtCutoff       samples exactly cutoff_len long: most of them were cut there (or are text pieces)
 * @param outputRows            rows written to the tokenized Parquet, all splits
 * @param trainOutputRows       of them, rows of the train split, in {@code tokenized_path}: what the trainer reads
 * @param validationOutputRows  of them, rows of the validation split, in {@code tokenized_path/_validation}
 * @param testOutputRows        of them, rows of the test split, in {@code tokenized_path/_test}
 * @param packedRows            packed rows among them (0 without packing)
 * @param packingEfficiency     causal tokens / (packedRows x cutoff_len): the share of packed positions that are
 *                              not padding (0 without packing)
 * @param lengthHistogram       samples of all splits by length before packing: key = a bucket's upper bound
 *                              (powers of two, the last bucket ends at cutoff_len), value = samples longer than the
 *                              previous bound and at most this one
 */
public record PackReport(long rowsIn, long rowsKept, long rowsRejected, long validationRowsKept, long testRowsKept,
                         long causalSamples, long classificationSamples, long tokens, long samplesAtCutoff,
                         long outputRows, long trainOutputRows, long validationOutputRows, long testOutputRows,
                         long packedRows, double packingEfficiency, SortedMap<Integer, Long> lengthHistogram) {

    public PackReport {
        lengthHistogram = lengthHistogram == null ? new TreeMap<>() : new TreeMap<>(lengthHistogram);
    }

    /** The histogram bucket (upper bound) of a sample of {@code length} tokens. */
    static int bucket(int length, int cutoffLen) {
        int bound = 1;
        while (bound < length) {
            bound <<= 1;
        }
        return Math.min(bound, cutoffLen);
    }
}
