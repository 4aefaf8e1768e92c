package dev.sparktune.pack;

import dev.sparktune.prep.StageResult;

/**
 * What the tokenize stage hands the job: the kept rows (the tokenized Parquet, read back from
 * {@code tokenized_path}) and the rejected ones, the numbers for {@code report.json}, and whether the output was
 * reused rather than rewritten.
 *
 * @param result      stage {@code tokenize}: kept = tokenized rows (schema of the README's "Tokenized data"),
 *                    rejected = {@code PrepRows.REJECTED} rows from {@code <tokenized_path>/_rejected}
 * @param report      counts and the token-length histogram
 * @param fingerprint the output's fingerprint ({@code <tokenized_path>/_fingerprint})
 * @param reused      true when a committed output with this fingerprint existed and nothing was tokenized
 * @param labelsFile  {@code <tokenized_path>/_labels.json} when the input has classification rows, else null
 */
public record PackOutcome(StageResult result, PackReport report, String fingerprint, boolean reused,
                          String labelsFile) {
}
