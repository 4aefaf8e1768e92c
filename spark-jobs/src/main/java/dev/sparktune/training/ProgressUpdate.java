package dev.sparktune.training;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.train.ProgressLine;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.StepMetrics;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A step's progress as rank 0 sends it to the driver, one JSON line:
 * {@code {"step":12,"total_steps":40,"loss":1.23,"lr":2e-5,"tokens_per_second":830.5,"eta_seconds":61.2,
 * "task_losses":{"mood":1.1,"topic":1.4},"validation":{"validation":1.3,"validation/mood/accuracy":0.75}}}
 * ({@code eta_seconds} is absent before a step has been timed; {@code task_losses} with one task and
 * {@code validation} on a step without validation are empty).
 */
public record ProgressUpdate(long step, long totalSteps, double loss, double learningRate, double tokensPerSecond,
                             Optional<Duration> eta, Map<String, Double> taskLosses, Map<String, Double> validation) {

    public ProgressUpdate {
        taskLosses = new TreeMap<>(taskLosses);
        validation = new TreeMap<>(validation);
    }

    static ProgressUpdate of(StepListener.StepProgress progress) {
        StepMetrics m = progress.metrics();
        return new ProgressUpdate(m.step(), progress.totalSteps(), m.loss(), m.learningRate(), m.tokensPerSecond(),
                progress.eta(), m.taskLosses(), m.validation());
    }

    String toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("step", step);
        o.addProperty("total_steps", totalSteps);
        o.addProperty("loss", Double.isFinite(loss) ? loss : null);
        o.addProperty("lr", learningRate);
        o.addProperty("tokens_per_second", tokensPerSecond);
        eta.ifPresent(d -> o.addProperty("eta_seconds", d.toMillis() / 1000.0));
        o.add("task_losses", numbers(taskLosses));
        o.add("validation", numbers(validation));
        return o.toString();
    }

    static ProgressUpdate fromJson(String line) {
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        return new ProgressUpdate(o.get("step").getAsLong(), o.get("total_steps").getAsLong(),
                o.get("loss").isJsonNull() ? Double.NaN : o.get("loss").getAsDouble(), o.get("lr").getAsDouble(),
                o.get("tokens_per_second").getAsDouble(),
                o.has("eta_seconds") ? Optional.of(Duration.ofMillis(Math.round(o.get("eta_seconds").getAsDouble() * 1000)))
                        : Optional.empty(), numbers(o, "task_losses"), numbers(o, "validation"));
    }

    private static JsonObject numbers(Map<String, Double> values) {
        JsonObject o = new JsonObject();
        values.forEach((k, v) -> o.addProperty(k, Double.isFinite(v) ? v : null));
        return o;
    }

    private static Map<String, Double> numbers(JsonObject o, String key) {
        Map<String, Double> values = new TreeMap<>();
        if (o.has(key)) {
            o.getAsJsonObject(key).entrySet().forEach(e -> values.put(e.getKey(),
                    e.getValue().isJsonNull() ? Double.NaN : e.getValue().getAsDouble()));
        }
        return values;
    }

    /**
     * The line the driver logs: {@code step 12/40 | loss 1.2300 | lr 2.0e-05 | 831 tok/s | ETA 1m01s}, then each task's
     * loss when there are several ({@code | mood 1.1000 topic 1.4000}), and the validation after the step
     * ({@link ProgressLine#validation}) when there was one.
     */
    String line() {
        StringBuilder line = new StringBuilder(ProgressLine.format(step, totalSteps, loss, learningRate,
                tokensPerSecond, eta));
        if (!taskLosses.isEmpty()) {
            line.append(" |");
            taskLosses.forEach((task, l) -> line.append(String.format(Locale.ROOT, " %s %.4f", task, l)));
        }
        if (validation.containsKey("validation")) {
            line.append(" | ").append(ProgressLine.validation(validation));
        }
        return line.toString();
    }
}
