package dev.sparktune.prep;

import java.util.regex.Pattern;

/**
 * One Hive-style output partition, {@code --partition dt=2026-11-28}: the job writes
 * {@code <prepared_path>/dt=2026-11-28/} (and {@code <tokenized_path>/dt=2026-11-28/}) and leaves the other
 * partitions alone.
 */
public record PartitionSpec(String column, String value) {
    private static final Pattern COLUMN = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9_.:+-]+");

    public PartitionSpec {
        if (!COLUMN.matcher(column).matches() || !VALUE.matcher(value).matches()) {
            throw new IllegalArgumentException("partition '" + column + "=" + value + "' is not column=value with a"
                    + " column of letters, digits and _ and a value of letters, digits and . _ : + -, e.g. dt=2026-11-28");
        }
    }

    /** Parses {@code column=value}. */
    public static PartitionSpec parse(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("partition '" + spec + "' is not column=value, e.g. dt=2026-11-28");
        }
        return new PartitionSpec(spec.substring(0, eq).trim(), spec.substring(eq + 1).trim());
    }

    /** The folder name, {@code column=value}. */
    public String folder() {
        return column + "=" + value;
    }

    /** This partition's folder under {@code path}: {@code hdfs:///prep} becomes {@code hdfs:///prep/dt=2026-11-28}. */
    public String under(String path) {
        return (path.endsWith("/") ? path : path + "/") + folder();
    }
}
