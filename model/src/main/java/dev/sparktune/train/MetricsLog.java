package dev.sparktune.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The metrics file of a run: one JSON object per logged step, one per line, e.g.
 * <pre>{"step":120,"loss":1.2345,"task_losses":{"sft":1.1,"cls":1.4},"lr":2.0E-5,"grad_norm":0.8,"tokens_per_second":1234.5,"elapsed_seconds":96.1}</pre>
 * Each line is flushed as it is written, so a crash keeps every step logged before it. A value
 * that is not finite (a NaN loss) is written as {@code null}, since JSON has no NaN.
 */
public final class MetricsLog implements AutoCloseable {
    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** Starts a new metrics file, replacing any earlier one. */
    public static MetricsLog create(Path file) {
        return open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
    }

    /**
     * Continues the metrics file of a run resumed from the checkpoint at {@code checkpointStep}:
     * lines of later steps, which the resumed run logs again, are dropped, and so is a last line
     * cut short by a crash.
     */
    public static MetricsLog resume(Path file, long checkpointStep) {
        if (Files.exists(file)) {
            List<String> kept = new ArrayList<>();
            List<String> lines = readLines(file);
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
            Path rewritten = file.resolveSibling("." + file.getFileName() + "." + UUID.randomUUID() + ".tmp");
            try {
                Files.write(rewritten, kept, StandardCharsets.UTF_8);
                Files.move(rewritten, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                try {
                    Files.deleteIfExists(rewritten);
                } catch (IOException ignored) {
                    // the rewrite already failed with a better message
                }
                throw new UncheckedIOException(file + ": cannot rewrite the metrics file: " + e, e);
            }
        }
        return open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static MetricsLog open(Path file, StandardOpenOption... options) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8, options));
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot open the metrics file: " + e, e);
        }
    }

    public Path file() {
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
        try {
            out.write(line.toString());
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write metrics: " + e, e);
        }
    }

    /** Every line of a metrics file, in order. */
    public static List<StepMetrics> read(Path file) {
        List<StepMetrics> records = new ArrayList<>();
        List<String> lines = readLines(file);
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
        return new StepMetrics(step.getAsLong(), value(o.get("loss")), tasks, value(o.get("lr")),
                value(o.get("grad_norm")), value(o.get("tokens_per_second")), value(o.get("elapsed_seconds")));
    }

    private static JsonElement number(double value) {
        return Double.isFinite(value) ? new JsonPrimitive(value) : JsonNull.INSTANCE;
    }

    private static double value(JsonElement e) {
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read the metrics file: " + e, e);
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
