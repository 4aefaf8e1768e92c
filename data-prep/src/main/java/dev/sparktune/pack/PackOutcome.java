package dev.sparktune.pack;

import dev.sparktune.rows.StageResult;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What the tokenize stage hands the job: the kept rows (the tokenized Parquet, read back from
 * {@code tokenized_path}) and the rejected ones, the numbers for {@code report.json}, and whether the output was
 * reused rather than rewritten.
 *
 * @param result      stage {@code tokenize}: kept = the train split's tokenized rows (schema of the README's
 *                    "Tokenized data"), rejected = {@code PrepRows.REJECTED} rows from
 *                    {@code <tokenized_path>/_rejected}
 * @param validation  the validation split's tokenized rows, from {@code <tokenized_path>/_validation} (none when the
 *                    split is empty)
 * @param test        the test split's tokenized rows, from {@code <tokenized_path>/_test} (none when the split is
 *                    empty)
 * @param report      counts and the token-length histogram
 * @param fingerprint the output's fingerprint ({@code <tokenized_path>/_fingerprint})
 * @param reused      true when a committed output with this fingerprint existed and nothing was tokenized
 */
public record PackOutcome(StageResult result, Dataset<Row> validation, Dataset<Row> test, PackReport report,
                          String fingerprint, boolean reused) {
}
