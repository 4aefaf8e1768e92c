package dev.sparktune.ingest;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.to_json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparktune.rows.PrepRows;
import dev.sparktune.rows.RecordFailure;
import dev.sparktune.rows.StageResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.SerializableConfiguration;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The ingest stage: reads the files of the named datasets into {@link PrepRows#PREPARED} rows. The driver only
 * lists files; executors open and parse them (Parquet through Spark's reader, one row at a time as JSON), so
 * every bad record becomes a {@link PrepRows#REJECTED} row of stage {@code ingest} instead of failing the job.
 * The one parse pass is persisted: kept and rejected rows and their counts come from it without re-reading.
 *
 * <p>A dataset's {@code file_name} (relative to {@code data.dataset_dir} unless absolute) is a file, a folder
 * (read recursively, skipping names that start with {@code _} or {@code .} as Spark does) or a Hadoop glob.
 * A name that matches nothing fails the job: that is a configuration error, not a bad record.
 */
public final class Ingest {
    public static final String STAGE = "ingest";
    /** The name of the persisted parse pass, so that the job can release it. */
    public static final String PERSISTED_NAME = "ingest outcomes";

    private Ingest() {
    }

    public static StageResult read(SparkSession spark, DatasetRegistry registry, List<String> datasets,
                                   Path datasetDir, long maxRecordBytes) {
        if (datasets.isEmpty()) {
            throw new IllegalArgumentException("data.dataset lists no datasets; name at least one from the dataset registry");
        }
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        List<SourceFile> streamed = new ArrayList<>();
        List<SourceFile> parquet = new ArrayList<>();
        Map<String, RecordConverter> converters = new HashMap<>();
        for (String name : datasets) {
            DatasetSpec spec = registry.get(name);
            converters.put(name, new RecordConverter(spec));
            for (SourceFile f : list(spec, datasetDir, hadoop)) {
                (f.format() == FileFormat.PARQUET ? parquet : streamed).add(f);
            }
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<SerializableConfiguration> conf = jsc.broadcast(new SerializableConfiguration(hadoop));
        Map<String, RecordConverter> byDataset = Map.copyOf(converters);

        List<JavaRDD<Outcome>> parts = new ArrayList<>();
        if (!streamed.isEmpty()) {
            int slices = Math.min(streamed.size(), Math.max(1, 4 * jsc.defaultParallelism()));
            // flatMap consumes the files one at a time: only one file's rows are buffered
            parts.add(jsc.parallelize(streamed, slices).flatMap(f -> parse(f, byDataset, conf, maxRecordBytes)));
        }
        for (SourceFile f : parquet) {
            parts.add(parquet(spark, f, byDataset.get(f.dataset()), maxRecordBytes));
        }
        JavaRDD<Outcome> outcomes = parts.isEmpty() ? jsc.emptyRDD()
                : parts.size() == 1 ? parts.get(0) : jsc.union(parts.toArray(JavaRDD[]::new));
        outcomes = outcomes.persist(StorageLevel.MEMORY_AND_DISK()).setName(PERSISTED_NAME);

        Dataset<Row> kept = spark.createDataFrame(outcomes.filter(Outcome::isKept).map(Outcome::prepared), PrepRows.PREPARED);
        Dataset<Row> rejected = spark.createDataFrame(outcomes.filter(o -> !o.isKept()).map(Outcome::rejected), PrepRows.REJECTED);
        return new StageResult(STAGE, kept, rejected);
    }

    /** The outcomes of one file, made as they are taken; the file is closed at its end or the task's. */
    private static Iterator<Outcome> parse(SourceFile f, Map<String, RecordConverter> converters,
                                           Broadcast<SerializableConfiguration> conf, long maxRecordBytes) throws IOException {
        Path path = new Path(f.path());
        InputStream in = path.getFileSystem(conf.value().value()).open(path);
        FileParser parser = new FileParser(f, converters.get(f.dataset()), maxRecordBytes, in);
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((TaskCompletionListener) context -> parser.close());
        }
        return parser;
    }

    /**
     * A Parquet file through Spark's reader: each row as JSON text with its {@code _metadata.row_index}, then the
     * same record conversion as JSON input, so wrong column types are rejected per row. A file Spark cannot open
     * as Parquet is one rejected row.
     */
    private static JavaRDD<Outcome> parquet(SparkSession spark, SourceFile f, RecordConverter converter, long maxRecordBytes) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        if (f.length() == 0) {
            return jsc.parallelize(List.of(Outcome.rejected("empty file: 0 bytes, not Parquet", f, "")), 1);
        }
        if (!hasParquetMagic(f, spark.sparkContext().hadoopConfiguration())) {
            return jsc.parallelize(List.of(Outcome.rejected("not a Parquet file: it does not begin and end with the"
                    + " Parquet magic bytes PAR1 (binary garbage, or a file cut short)", f, null)), 1);
        }
        Dataset<Row> rows;
        try {
            rows = spark.read().parquet(f.path());
            if (rows.columns().length == 0) {
                return jsc.parallelize(List.of(Outcome.rejected("empty file: the Parquet file has no columns", f, null)), 1);
            }
            Column[] columns = Arrays.stream(rows.columns()).map(c -> col("`" + c + "`")).toArray(Column[]::new);
            rows = rows.select(col("_metadata.row_index").as("row_index"), to_json(struct(columns)).as("json"));
        } catch (Exception e) { // Spark's own exceptions are checked ones thrown from Scala
            String reason = "not a readable Parquet file: " + firstLine(e.getMessage());
            return jsc.parallelize(List.of(Outcome.rejected(reason, f, null)), 1);
        }
        return rows.javaRDD().mapPartitions(it -> new ParquetRows(it, f, converter, maxRecordBytes));
    }

    /**
     * The outcomes of one task's share of a Parquet file, row by row as they are taken. A row that does not convert
     * is rejected; when Spark's reader itself fails (a corrupt page), the rest of the share is one rejected row
     * naming the last row read, instead of a failed job.
     */
    private static final class ParquetRows implements Iterator<Outcome> {
        private final Iterator<Row> rows;
        private final SourceFile file;
        private final RecordConverter converter;
        private final long maxRecordBytes;
        private final ObjectMapper json = new ObjectMapper();
        private long lastIndex = -1;
        private Outcome failure;
        private boolean broken;

        ParquetRows(Iterator<Row> rows, SourceFile file, RecordConverter converter, long maxRecordBytes) {
            this.rows = rows;
            this.file = file;
            this.converter = converter;
            this.maxRecordBytes = maxRecordBytes;
        }

        @Override
        public boolean hasNext() {
            if (failure != null) {
                return true;
            }
            if (broken) {
                return false;
            }
            try {
                return rows.hasNext();
            } catch (Throwable t) {
                unreadable(t);
                return true;
            }
        }

        @Override
        public Outcome next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            if (failure != null) {
                Outcome f = failure;
                failure = null;
                return f;
            }
            Row r;
            try {
                r = rows.next();
            } catch (Throwable t) {
                unreadable(t);
                return next();
            }
            long index = r.getLong(0);
            lastIndex = index;
            String text = r.getString(1);
            String where = "row " + index;
            long size = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (size > maxRecordBytes) {
                return Outcome.rejected(String.format(java.util.Locale.ROOT,
                        "%s is %,d bytes as JSON, over data.max_record_bytes = %,d; raise the limit or split the"
                                + " record (its first %,d characters are kept here)", where, size, maxRecordBytes,
                        FileParser.OVERSIZE_SAVED_BYTES), file,
                        text.substring(0, Math.min(text.length(), FileParser.OVERSIZE_SAVED_BYTES)));
            }
            try {
                JsonNode node = json.readTree(text);
                return Outcome.kept(converter.convert(node, RecordIds.of(file.dataset(), file.relative(), index)));
            } catch (RecordProblem p) {
                return Outcome.rejected(where + ": " + p.getMessage(), file, text);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("Spark's to_json wrote JSON that does not parse: " + text, e);
            } catch (Throwable t) {
                return Outcome.rejected(where + ": " + RecordFailure.reason("converting the row", t), file, text);
            }
        }

        private void unreadable(Throwable t) {
            broken = true;
            RecordFailure.reason("reading the Parquet data", t); // rethrows the JVM's own errors and task kills
            String cause = RecordFailure.reason("reading the Parquet data", rootCause(t));
            failure = Outcome.rejected((lastIndex < 0 ? "the rows of a part of the file" : "the rows after row "
                    + lastIndex + " in this part of the file") + " cannot be read, a corrupt page or column chunk: "
                    + cause + "; rewrite the file", file, null);
        }
    }

    private static Throwable rootCause(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c;
    }

    private static boolean hasParquetMagic(SourceFile f, Configuration hadoop) {
        byte[] magic = "PAR1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        if (f.length() < 12) {
            return false;
        }
        Path path = new Path(f.path());
        try (org.apache.hadoop.fs.FSDataInputStream in = path.getFileSystem(hadoop).open(path)) {
            byte[] head = new byte[4];
            byte[] tail = new byte[4];
            in.readFully(0, head);
            in.readFully(f.length() - 4, tail);
            return Arrays.equals(head, magic) && Arrays.equals(tail, magic);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f.path(), e);
        }
    }

    /** The files of a dataset, sorted by path, each with its path relative to the dataset's root. */
    static List<SourceFile> list(DatasetSpec spec, Path datasetDir, Configuration hadoop) {
        Path pattern = new Path(spec.fileName());
        if (!pattern.isAbsolute() && pattern.toUri().getScheme() == null) {
            pattern = new Path(datasetDir, spec.fileName());
        }
        try {
            FileSystem fs = pattern.getFileSystem(hadoop);
            pattern = fs.makeQualified(pattern);
            FileStatus[] matches = fs.globStatus(pattern);
            if (matches == null || matches.length == 0) {
                throw new IllegalArgumentException("dataset '" + spec.name() + "': file_name '" + spec.fileName()
                        + "' matches no file (looked for " + pattern + "); fix file_name in dataset_info.yaml or"
                        + " data.dataset_dir");
            }
            Path root = root(pattern, matches);
            List<FileStatus> files = new ArrayList<>();
            for (FileStatus m : matches) {
                collect(fs, m, files);
            }
            files.sort(Comparator.comparing(s -> s.getPath().toString()));
            String rootPrefix = root.toUri().getPath();
            rootPrefix = rootPrefix.endsWith("/") ? rootPrefix : rootPrefix + "/";
            List<SourceFile> out = new ArrayList<>();
            for (FileStatus s : files) {
                String path = s.getPath().toUri().getPath();
                String relative = path.startsWith(rootPrefix) ? path.substring(rootPrefix.length()) : s.getPath().getName();
                FileFormat format = spec.fileFormat() != null ? spec.fileFormat() : FileFormat.fromExtension(s.getPath().getName());
                out.add(new SourceFile(spec.name(), s.getPath().toString(), relative, format, s.getLen()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the files of dataset '" + spec.name() + "' at " + pattern, e);
        }
    }

    /** Ids use paths relative to this: the folder named, the folder of the file named, or the folder above the first glob. */
    private static Path root(Path pattern, FileStatus[] matches) {
        if (!hasGlob(pattern.toUri().getPath())) {
            return matches[0].isDirectory() ? matches[0].getPath() : matches[0].getPath().getParent();
        }
        Path q = pattern;
        while (q.getParent() != null && hasGlob(q.toUri().getPath())) {
            q = q.getParent();
        }
        return q;
    }

    private static boolean hasGlob(String s) {
        return s.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
    }

    private static void collect(FileSystem fs, FileStatus status, List<FileStatus> into) throws IOException {
        String name = status.getPath().getName();
        if (name.startsWith("_") || name.startsWith(".")) {
            return;
        }
        if (status.isDirectory()) {
            for (FileStatus child : fs.listStatus(status.getPath())) {
                collect(fs, child, into);
            }
        } else {
            into.add(status);
        }
    }

    private static String firstLine(String message) {
        return message == null ? "" : message.lines().findFirst().orElse("");
    }
}
