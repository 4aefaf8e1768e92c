package dev.sparktune.ingest;

import java.io.Serializable;

/**
 * One input file of a dataset, as the driver lists it for the executors.
 *
 * @param dataset  the dataset's name
 * @param path     the file's full Hadoop path
 * @param relative its path relative to the dataset's root (part of every row id)
 * @param format   how to read it, or null when neither dataset_info nor the extension says
 * @param length   its size in bytes
 */
record SourceFile(String dataset, String path, String relative, FileFormat format, long length) implements Serializable {
}
