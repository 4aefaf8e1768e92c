package dev.sparktune.training;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sparktune.train.ProgressLine;
import dev.sparktune.train.StepListener;
import dev.sparktune.train.StepMetrics;
import java.time.Duration;
import java.util.Optional;

/**
 * A step's progress as rank 0 sends it to the driver, one JSON line:
 * {@code {"step":12,"total_steps":40,"loss":1.23,"lr":2e-5,"tokens_per_second":830.5,"eta_seconds":61.2}}
 * ({@code eta_seconds} is absent before a step has been timed).
 */
public record ProgressUpdate(long step, long totalSteps, double loss, double learningRate, double tokensPerSecond,
                             Optional<Duration> eta) {

    static ProgressUpdate of(StepListener.StepProgress progress) {
        StepMetrics m = progress.metrics();
        return new ProgressUpdate(m.step(), progress.totalSteps(), m.loss(), m.learningRate(), m.tokensPerSecond(),
                progress.eta());
    }

    String toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("step", step);
        o.addProperty("total_steps", totalSteps);
        o.addProperty("loss", Double.isFinite(loss) ? loss : null);
        o.addProperty("lr", learningRate);
        o.addProperty("tokens_per_second", tokensPerSecond);
        eta.ifPresent(d -> o.addProperty("eta_seconds", d.toMillis() / 1000.0));
        return o.toString();
    }

    static ProgressUpdate fromJson(String line) {
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        return new ProgressUpdate(o.get("step").getAsLong(), o.get("total_steps").getAsLong(),
                o.get("loss").isJsonNull() ? Double.NaN : o.get("loss").getAsDouble(), o.get("lr").getAsDouble(),
                o.get("tokens_per_second").getAsDouble(),
                o.has("eta_seconds") ? Optional.of(Duration.ofMillis(Math.round(o.get("eta_seconds").getAsDouble() * 1000)))
                        : Optional.empty());
    }

    /** The line the driver logs: {@code step 12/40 | loss 1.2300 | lr 2.0e-05 | 831 tok/s | ETA 1m01s}. */
    String line() {
        return ProgressLine.format(step, totalSteps, loss, learningRate, tokensPerSecond, eta);
    }
}
