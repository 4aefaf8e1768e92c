package dev.sparktune.optim;

import java.util.Map;

/**
 * Dynamic loss scaling for float16 training, with {@code torch.amp.GradScaler}'s rule (Micikevicius et al., 2018):
 * the loss is multiplied by {@link #scale()} before backward so that small gradients do not flush to zero in
 * float16; the update unscales them. A step whose gradients overflowed is skipped and the scale halves; after
 * {@link #GROWTH_INTERVAL} consecutive steps without overflow it doubles. Scales stay powers of two, so scaling and
 * unscaling are exact.
 */
public final class LossScaler {
    /** {@code GradScaler}'s growth_interval. */
    public static final int GROWTH_INTERVAL = 2000;
    private static final double GROWTH = 2.0;
    private static final double BACKOFF = 0.5;
    private static final String SCALE = "loss_scale";
    private static final String GROWTH_TRACKER = "loss_scale_growth_tracker";
    private static final String SKIPPED = "loss_scale_skipped_steps";

    private final int growthInterval;
    private double scale;
    /** Consecutive steps without overflow since the scale last changed. */
    private int growthTracker;
    /** Steps skipped for overflow since training started. */
    private long skippedSteps;

    /** A scaler starting at {@code 2^initialScalePower} (torch's default is 2^16), doubling every {@code growthInterval}. */
    public LossScaler(int initialScalePower, int growthInterval) {
        if (growthInterval < 1) {
            throw new IllegalArgumentException("growth interval must be >= 1, got " + growthInterval);
        }
        this.scale = Math.scalb(1.0, initialScalePower);
        this.growthInterval = growthInterval;
    }

    public double scale() {
        return scale;
    }

    public long skippedSteps() {
        return skippedSteps;
    }

    /** After a step: {@code overflowed} says whether any rank's gradients held a NaN or an infinity. */
    public void update(boolean overflowed) {
        if (overflowed) {
            scale *= BACKOFF;
            growthTracker = 0;
            skippedSteps++;
        } else if (++growthTracker == growthInterval) {
            scale *= GROWTH;
            growthTracker = 0;
        }
    }

    /** The state to resume from, as strings that round-trip exactly ({@code GradScaler.state_dict()}'s fields). */
    public Map<String, String> state() {
        return Map.of(SCALE, Double.toString(scale), GROWTH_TRACKER, Integer.toString(growthTracker),
                SKIPPED, Long.toString(skippedSteps));
    }

    /**
     * Continues from {@code saved} ({@link #state()}'s entries among other notes); a checkpoint without them (older,
     * or written without fp16) leaves this scaler at its start.
     */
    public void restore(Map<String, String> saved) {
        if (saved.containsKey(SCALE)) {
            scale = Double.parseDouble(saved.get(SCALE));
            growthTracker = Integer.parseInt(saved.getOrDefault(GROWTH_TRACKER, "0"));
            skippedSteps = Long.parseLong(saved.getOrDefault(SKIPPED, "0"));
        }
    }
}
