package dev.sparktune.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Tokenized training data in Parquet on any Hadoop file system ({@code file://}, {@code hdfs://},
 * {@code s3a://}). Columns, as Spark writes them from the data-prep jobs:
 * <pre>
 *   input_ids   array&lt;bigint&gt;   required
 *   labels      array&lt;bigint&gt;   optional, -100 = no loss
 *   segment_ids array&lt;bigint&gt;   optional, packed rows
 *   label       bigint          optional, classification
 *   task        string          optional, multi-task runs
 * </pre>
 * Rows are read one row group at a time, streaming: a row group is the unit ranks share out
 * and an epoch shuffles, and no reader ever holds a whole dataset.
 */
public final class TokenizedParquet {
    public static final String INPUT_IDS = "input_ids";
    public static final String LABELS = "labels";
    public static final String SEGMENT_IDS = "segment_ids";
    public static final String LABEL = "label";
    public static final String TASK = "task";
    /**
     * Prep writes each training task's rows to a folder {@code task=<name>} (Spark's partition layout, so a
     * DataFrame read of the whole folder has a {@code task} column); the files inside hold no {@code task} column.
     */
    public static final String TASK_FOLDER = "task=";
    /** Every column, in file order: what prep writes, the trainer reads and {@code FineTuner} takes from a DataFrame. */
    public static final List<String> COLUMNS = List.of(INPUT_IDS, LABELS, SEGMENT_IDS, LABEL, TASK);

    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
            message tokenized {
              required group input_ids (LIST) { repeated group list { required int64 element; } }
              optional group labels (LIST) { repeated group list { required int64 element; } }
              optional group segment_ids (LIST) { repeated group list { required int64 element; } }
              optional int64 label;
              optional binary task (STRING);
            }""");

    private TokenizedParquet() {
    }

    /**
     * One row group of one file: the unit of sharding and shuffling.
     *
     * @param task the task its {@code task=<name>} folder names, or null for a file outside such a folder
     */
    public record RowGroup(String file, int index, long rows, String task) {
    }

    /**
     * The training tasks under {@code dir}: task name to folder, sorted by name, one per {@code task=<name>}
     * folder; a folder without task folders (a single-task dataset such as {@code FineTuner} writes) is one task,
     * returned under the key {@code null}. Empty when {@code dir} does not exist.
     */
    public static SortedMap<String, String> taskFolders(Configuration conf, String dir) {
        Path root = new Path(dir);
        SortedMap<String, String> tasks = new TreeMap<>(Comparator.nullsFirst(Comparator.naturalOrder()));
        try {
            FileSystem fs = root.getFileSystem(conf);
            if (!fs.exists(root)) {
                return tasks;
            }
            if (fs.getFileStatus(root).isFile()) {
                tasks.put(null, dir);
                return tasks;
            }
            for (FileStatus f : fs.listStatus(root)) {
                String name = f.getPath().getName();
                if (f.isDirectory() && name.startsWith(TASK_FOLDER)) {
                    tasks.put(name.substring(TASK_FOLDER.length()), f.getPath().toString());
                }
            }
            if (tasks.isEmpty()) {
                tasks.put(null, dir);
            }
            return tasks;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list tokenized Parquet", e);
        }
    }

    /**
     * Every row group of every {@code .parquet} file under {@code dir} (or of the file itself), in file order, those
     * of {@code task=<name>} folders included (task folders in name order, each file's rows tagged with the task).
     */
    public static List<RowGroup> rowGroups(Configuration conf, String dir) {
        try {
            List<RowGroup> groups = new ArrayList<>();
            for (Map.Entry<String, String> task : taskFolders(conf, dir).entrySet()) {
                groups.addAll(rowGroups(conf, task.getValue(), task.getKey()));
            }
            if (groups.isEmpty()) {
                throw new IllegalArgumentException(dir + ": no tokenized Parquet rows (no non-empty .parquet files)");
            }
            return groups;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list tokenized Parquet", e);
        }
    }

    private static List<RowGroup> rowGroups(Configuration conf, String dir, String task) throws IOException {
        Path root = new Path(dir);
        FileSystem fs = root.getFileSystem(conf);
        List<FileStatus> files = new ArrayList<>();
        if (fs.getFileStatus(root).isFile()) {
            files.add(fs.getFileStatus(root));
        } else {
            for (FileStatus f : fs.listStatus(root)) {
                String name = f.getPath().getName();
                if (f.isFile() && name.endsWith(".parquet") && !name.startsWith("_") && !name.startsWith(".")) {
                    files.add(f);
                }
            }
        }
        files.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
        List<RowGroup> groups = new ArrayList<>();
        for (FileStatus f : files) {
            try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromStatus(f, conf))) {
                List<BlockMetaData> blocks = reader.getRowGroups();
                for (int i = 0; i < blocks.size(); i++) {
                    groups.add(new RowGroup(f.getPath().toString(), i, blocks.get(i).getRowCount(), task));
                }
            }
        }
        return groups;
    }

    /**
     * The largest {@code label} in {@code groups}, from the files' footer statistics alone (no rows are read); -1
     * when no group has labels with statistics.
     */
    public static long maxLabel(Configuration conf, List<RowGroup> groups) {
        long max = -1;
        Map<String, List<Integer>> byFile = new LinkedHashMap<>();
        groups.forEach(g -> byFile.computeIfAbsent(g.file(), f -> new ArrayList<>()).add(g.index()));
        for (Map.Entry<String, List<Integer>> file : byFile.entrySet()) {
            try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(file.getKey()), conf))) {
                List<BlockMetaData> blocks = reader.getRowGroups();
                for (int index : file.getValue()) {
                    for (ColumnChunkMetaData column : blocks.get(index).getColumns()) {
                        if (column.getPath().toDotString().equals(LABEL) && column.getStatistics() != null
                                && column.getStatistics().hasNonNullValue()) {
                            max = Math.max(max, ((Number) column.getStatistics().genericGetMax()).longValue());
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(file.getKey() + ": cannot read the Parquet footer", e);
            }
        }
        return max;
    }

    /** The rows of one row group, decoded as they are read. */
    public static List<TokenizedRow> read(Configuration conf, RowGroup group) {
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(new Path(group.file()), conf))) {
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            if (!schema.containsField("input_ids")) {
                throw new IllegalArgumentException(group.file() + ": no input_ids column; columns are " + schema.getFields());
            }
            for (int skip = 0; skip < group.index(); skip++) {
                reader.skipNextRowGroup();
            }
            PageReadStore pages = reader.readNextRowGroup();
            MessageColumnIO io = new ColumnIOFactory().getColumnIO(schema);
            RecordReader<Group> records = io.getRecordReader(pages, new GroupRecordConverter(schema));
            List<TokenizedRow> rows = new ArrayList<>((int) pages.getRowCount());
            for (long r = 0; r < pages.getRowCount(); r++) {
                rows.add(decode(records.read(), schema, group.task()));
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException(group.file() + ": cannot read row group " + group.index(), e);
        }
    }

    /** Writes rows as one file with row groups of about {@code rowGroupBytes}; for tests and small local jobs. */
    public static void write(Configuration conf, String file, List<TokenizedRow> rows, int rowGroupBytes) {
        SimpleGroupFactory groups = new SimpleGroupFactory(SCHEMA);
        try (ParquetWriter<Group> writer = ExampleParquetWriter.builder(new Path(file))
                .withConf(conf)
                .withType(SCHEMA)
                .withRowGroupSize(rowGroupBytes)
                .withPageSize(Math.min(rowGroupBytes, 1 << 20))
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                .build()) {
            for (TokenizedRow row : rows) {
                Group g = groups.newGroup();
                list(g, "input_ids", row.inputIds());
                list(g, "labels", row.labels());
                list(g, "segment_ids", row.segmentIds());
                if (row.label() != null) {
                    g.add("label", row.label());
                }
                if (row.task() != null) {
                    g.add("task", row.task());
                }
                writer.write(g);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write tokenized Parquet", e);
        }
    }

    private static void list(Group row, String column, long[] values) {
        if (values == null) {
            return;
        }
        Group list = row.addGroup(column);
        for (long v : values) {
            list.addGroup("list").add("element", v);
        }
    }

    private static TokenizedRow decode(Group g, MessageType schema, String folderTask) {
        return new TokenizedRow(
                longs(g, "input_ids", schema),
                longs(g, "labels", schema),
                longs(g, "segment_ids", schema),
                schema.containsField("label") && g.getFieldRepetitionCount("label") > 0 ? g.getLong("label", 0) : null,
                schema.containsField("task") && g.getFieldRepetitionCount("task") > 0 ? g.getString("task", 0)
                        : folderTask);
    }

    /** A Spark array column: a LIST group of repeated {@code list} groups with one {@code element} each. */
    private static long[] longs(Group g, String column, MessageType schema) {
        if (!schema.containsField(column) || g.getFieldRepetitionCount(column) == 0) {
            return null;
        }
        Group list = g.getGroup(column, 0);
        int n = list.getFieldRepetitionCount("list");
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            Group element = list.getGroup("list", i);
            if (element.getFieldRepetitionCount("element") == 0) {
                throw new IllegalArgumentException(column + " holds a null element at position " + i);
            }
            out[i] = element.getLong("element", 0);
        }
        return out;
    }
}
