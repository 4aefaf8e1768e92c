package dev.sparktune.ingest;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How the files of a dataset are laid out; {@code file_format} in {@code dataset_info.yaml}, or inferred from the extension. */
public enum FileFormat {
    /** One JSON array of records per file. */
    JSON("json"),
    /** One JSON object per line. */
    JSONL("jsonl"),
    /** Comma-separated values with a header line (RFC 4180 quoting). */
    CSV("csv"),
    /** Apache Parquet. */
    PARQUET("parquet"),
    /** Plain UTF-8 text: one row per file. */
    TEXT("text"),
    /** One RFC 822 e-mail message per file: one row per file. */
    EMAIL("email");

    private final String key;

    FileFormat(String key) {
        this.key = key;
    }

    /** The name used in {@code dataset_info.yaml}. */
    public String key() {
        return key;
    }

    /** The format named {@code name}, or null. */
    public static FileFormat named(String name) {
        for (FileFormat f : values()) {
            if (f.key.equals(name.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        return null;
    }

    /** The format a file name's extension implies, or null when the extension says nothing. */
    public static FileFormat fromExtension(String fileName) {
        String name = fileName.toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
            return JSONL;
        }
        if (name.endsWith(".json")) {
            return JSON;
        }
        if (name.endsWith(".csv")) {
            return CSV;
        }
        if (name.endsWith(".parquet")) {
            return PARQUET;
        }
        if (name.endsWith(".txt")) {
            return TEXT;
        }
        if (name.endsWith(".eml")) {
            return EMAIL;
        }
        return null;
    }

    static String allowed() {
        return Arrays.stream(values()).map(FileFormat::key).collect(Collectors.joining(", "));
    }
}
