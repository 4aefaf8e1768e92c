package dev.sparktune.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.sparktune.io.HadoopFiles;
import java.io.BufferedWriter;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The metrics file of a run, on any Hadoop file system: one JSON object per logged step, one per line, e.g.
 * <pre>{"step":120,"loss":1.2345,"task_losses":{"sft":1.1,"cls":1.4},"lr":2.0E-5,"grad_norm":0.8,"tokens_per_second":1234.5,"elapsed_seconds":96.1,"communication_seconds":4.2,"rows/cls":1920,"rows/sft":1920}</pre>
 * {@code communication_seconds} is the part of {@code elapsed_seconds} rank 0 spent in the steps' collective calls
 * ({@link StepMetrics#communicationSeconds}). {@code rows/<task>} counts the rows trained on so far, over all
 * ranks. A step after which validation ran also carries its metrics, flat, under their names:
 * {@code "validation":1.31,"validation/cls/loss":1.2,"validation/cls/accuracy":0.75,"validation/sft/loss":1.42,
 * "validation/sft/perplexity":4.14}.
 * Each line is flushed to the file system as it is written ({@code hflush} on HDFS and local
 * files), so readers see it while the run goes on and a crash keeps every step logged before it;
 * on object stores (s3a) the file appears when the log is closed. A value that is not finite (a
 * NaN loss) is written as {@code null}, since JSON has no NaN.
 */
public final class MetricsLog implements AutoCloseable {
    /** The file's name in {@code train.output_dir}. */
    public static final String FILE = "metrics.jsonl";
    /** The prefix of each task's row count. */
    static final String ROWS = "rows/";

    private final String file;
    private final FSDataOutputStream stream;
    private final BufferedWriter out;

    private MetricsLog(String file, FSDataOutputStream stream) {
        this.file = file;
        this.stream = stream;
        this.out = new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8));
    }

    /** Starts a new metrics file at {@code file} (a URI, or a path {@code conf}'s {@code fs.defaultFS} resolves), replacing any earlier one. */
    public static MetricsLog create(Configuration conf, String file) {
        return open(conf, file, List.of());
    }

    /** Starts a new local metrics file, replacing any earlier one. */
    public static MetricsLog create(java.nio.file.Path file) {
        return create(new Configuration(), OutputFolder.localLocation(file));
    }

    /**
     * Continues the metrics file of a run resumed from the checkpoint at {@code checkpointStep}:
     * lines of later steps, which the resumed run logs again, are dropped, and so is a last line
     * cut short by a crash. The kept lines are written again into a new file that then takes the
     * new lines, since object stores cannot append; on HDFS a crash in the moment between replacing
     * the file and flushing the kept lines would lose them.
     */
    public static MetricsLog resume(Configuration conf, String file, long checkpointStep) {
        List<String> kept = new ArrayList<>();
        List<String> lines = readLines(conf, file, true);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            StepMetrics m;
            try {
                m = parse(line);
            } catch (RuntimeException e) {
                if (i == lines.size() - 1) {
                    break;
                }
                throw new IllegalArgumentException(file + ": line " + (i + 1) + " is not a metrics record ("
                        + e.getMessage() + "); only the last line may be cut short", e);
            }
            if (m.step() <= checkpointStep) {
                kept.add(line);
            }
        }
        return open(conf, file, kept);
    }

    /** As {@link #resume(Configuration, String, long)} for a local metrics file. */
    public static MetricsLog resume(java.nio.file.Path file, long checkpointStep) {
        return resume(new Configuration(), OutputFolder.localLocation(file), checkpointStep);
    }

    private static MetricsLog open(Configuration conf, String file, List<String> firstLines) {
        MetricsLog log;
        try {
            Path path = new Path(file);
            log = new MetricsLog(file, HadoopFiles.fileSystem(path, conf).create(path, true));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot open the metrics file: " + e, e);
        }
        try {
            for (String line : firstLines) {
                log.out.write(line);
                log.out.newLine();
            }
            log.flush();
        } catch (IOException | RuntimeException e) {
            log.closeAfter(e);
            throw e instanceof RuntimeException r ? r : new UncheckedIOException(file + ": cannot write metrics: " + e, (IOException) e);
        }
        return log;
    }

    /** Where the file is, as given. */
    public String file() {
        return file;
    }

    public void write(StepMetrics m) {
        JsonObject line = new JsonObject();
        line.addProperty("step", m.step());
        line.add("loss", number(m.loss()));
        JsonObject tasks = new JsonObject();
        m.taskLosses().forEach((task, loss) -> tasks.add(task, number(loss)));
        line.add("task_losses", tasks);
        line.add("lr", number(m.learningRate()));
        line.add("grad_norm", number(m.gradNorm()));
        line.add("tokens_per_second", number(m.tokensPerSecond()));
        line.add("elapsed_seconds", number(m.elapsedSeconds()));
        line.add("communication_seconds", number(m.communicationSeconds()));
        m.rows().forEach((task, rows) -> line.addProperty(ROWS + task, rows));
        m.validation().forEach((name, value) -> line.add(name, number(value)));
        try {
            out.write(line.toString());
            out.newLine();
            flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write metrics: " + e, e);
        }
    }

    private void flush() throws IOException {
        out.flush();
        HadoopFiles.flushToReaders(stream);
    }

    /** Every line of the local metrics file {@code file}, in order. */
    public static List<StepMetrics> read(java.nio.file.Path file) {
        return read(new Configuration(), OutputFolder.localLocation(file));
    }

    /** Every line of the metrics file at {@code file}, in order; while a run writes it, the lines flushed so far. */
    public static List<StepMetrics> read(Configuration conf, String file) {
        List<StepMetrics> records = new ArrayList<>();
        List<String> lines = readLines(conf, file, false);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            try {
                records.add(parse(lines.get(i)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": line " + (i + 1) + " is not a metrics record: " + e.getMessage(), e);
            }
        }
        return records;
    }

    /** One line back into its record; {@code null} values come back as NaN. */
    static StepMetrics parse(String line) {
        JsonObject o;
        try {
            o = JsonParser.parseString(line).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException("not a JSON object", e);
        }
        Map<String, Double> tasks = new TreeMap<>();
        JsonElement taskLosses = o.get("task_losses");
        if (taskLosses != null && taskLosses.isJsonObject()) {
            taskLosses.getAsJsonObject().entrySet().forEach(e -> tasks.put(e.getKey(), value(e.getValue())));
        }
        JsonElement step = o.get("step");
        if (step == null || !step.isJsonPrimitive()) {
            throw new IllegalArgumentException("no \"step\"");
        }
        Map<String, Long> rows = new TreeMap<>();
        Map<String, Double> validation = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            if (e.getKey().startsWith(ROWS)) {
                rows.put(e.getKey().substring(ROWS.length()), e.getValue().getAsLong());
            } else if (e.getKey().equals(Validation.LOSS) || e.getKey().startsWith(Validation.LOSS + "/")) {
                validation.put(e.getKey(), value(e.getValue()));
            }
        }
        return new StepMetrics(step.getAsLong(), value(o.get("loss")), tasks, value(o.get("lr")),
                value(o.get("grad_norm")), value(o.get("tokens_per_second")), value(o.get("elapsed_seconds")),
                value(o.get("communication_seconds")), rows,
                validation);
    }

    private static JsonElement number(double value) {
        return Double.isFinite(value) ? new JsonPrimitive(value) : JsonNull.INSTANCE;
    }

    private static double value(JsonElement e) {
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    private static List<String> readLines(Configuration conf, String file, boolean mayBeAbsent) {
        try {
            Path path = new Path(file);
            FileSystem fs = HadoopFiles.fileSystem(path, conf);
            return HadoopFiles.readString(fs, path).lines().toList();
        } catch (FileNotFoundException e) {
            if (mayBeAbsent) {
                return List.of();
            }
            throw new UncheckedIOException(file + ": no such metrics file", e);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the metrics file: " + e, e);
        }
    }

    private void closeAfter(Exception failure) {
        try {
            out.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot close the metrics file: " + e, e);
        }
    }
}
