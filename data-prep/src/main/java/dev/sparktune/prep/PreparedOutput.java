package dev.sparktune.prep;

import static org.apache.spark.sql.functions.col;

import dev.sparktune.io.CommitMarker;
import dev.sparktune.io.FolderCommit;
import dev.sparktune.rows.PrepRows;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;

/**
 * Writes one prep output folder and commits it by rename, with the Hadoop {@link FileSystem} API so that any
 * Hadoop path works:
 *
 * <pre>
 * target/                    (prepared_path, or prepared_path/dt=2026-11-28 for one partition)
 *   part-00000.parquet ...   kept rows of the train and validation splits, sorted by id
 *   _test/part-00000.parquet ... kept rows of the test split (only when there are any)
 *   _rejected/part-00000.parquet ...
 *   _report.json
 *   _SUCCESS                 written last, once the rest is in place: the list of committed files ({@link CommitMarker})
 * </pre>
 *
 * Everything is first written to a staging folder of this run beside the target, then committed by
 * {@link FolderCommit}: the previous output is kept until the new one is complete, and a second run to the same
 * target fails on its lease instead of mixing its files in. Rows are hash-partitioned by
 * id into a number of files that depends only on the row count, sorted within each file, and the part files get
 * fixed names, so a rerun over the same inputs writes the same rows in the same order to the same files, and the
 * same report. (Not always the same Parquet bytes: parquet-mr lists each column chunk's encodings in the footer in
 * HashSet order, which can differ between JVMs.)
 */
public final class PreparedOutput {
    /** The folder inside the output that holds the test split's rows; Spark's reader skips it, as names with _. */
    public static final String TEST_DIR = "_test";
    static final String REJECTED_DIR = "_rejected";
    static final String REPORT = PrepReport.FILE;
    /** Rows per output Parquet file. */
    static final long ROWS_PER_FILE = 500_000;

    private PreparedOutput() {
    }

    /**
     * @param kept     the train and validation rows
     * @param test     the test rows
     */
    static void commit(Path target, Dataset<Row> kept, long keptRows, Dataset<Row> test, long testRows,
                       Dataset<Row> rejected, long rejectedRows, String reportJson, Configuration hadoop) {
        try {
            FileSystem fs = target.getFileSystem(hadoop);
            try (FolderCommit commit = FolderCommit.begin(fs, target)) {
                Path staging = commit.staging();
                Column[] order = {col(PrepRows.ID)};
                write(kept, keptRows, order, staging, fs);
                if (testRows > 0) {
                    write(test, testRows, order, new Path(staging, TEST_DIR), fs);
                }
                Column[] all = Arrays.stream(PrepRows.REJECTED.fieldNames()).map(c -> col(c)).toArray(Column[]::new);
                write(rejected, rejectedRows, all, new Path(staging, REJECTED_DIR), fs);
                try (OutputStream out = fs.create(new Path(staging, REPORT), true)) {
                    out.write(reportJson.getBytes(StandardCharsets.UTF_8));
                }
                commit.commit(committed -> { });
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the prepared output " + target + ": " + e.getMessage(), e);
        }
    }

    private static void write(Dataset<Row> rows, long count, Column[] order, Path dir, FileSystem fs) throws IOException {
        int files = (int) Math.max(1, (count + ROWS_PER_FILE - 1) / ROWS_PER_FILE);
        rows.repartition(files, order).sortWithinPartitions(order)
                .write().mode(SaveMode.ErrorIfExists).parquet(dir.toString());
        fs.delete(new Path(dir, CommitMarker.NAME), false);    // Spark's; the commit writes the folder's own
        FileStatus[] parts = fs.listStatus(dir, p -> p.getName().startsWith("part-"));
        Arrays.sort(parts, Comparator.comparing(s -> s.getPath().getName()));
        for (int i = 0; i < parts.length; i++) {
            Path renamed = new Path(dir, String.format("part-%05d.parquet", i));
            if (!fs.rename(parts[i].getPath(), renamed)) {
                throw new IOException("cannot rename " + parts[i].getPath() + " to " + renamed);
            }
        }
    }
}
