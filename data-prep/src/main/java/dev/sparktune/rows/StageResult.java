package dev.sparktune.rows;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What one data-prep stage hands on: the rows it kept (schema {@link PrepRows#PREPARED}, or the tokenized schema
 * after the last stage) and the rows it rejected (schema {@link PrepRows#REJECTED}). Every stage keeps
 * {@code in = kept + rejected}, except augmentation, which adds rows and reports how many it could not augment.
 */
public record StageResult(String stage, Dataset<Row> kept, Dataset<Row> rejected) {
}
