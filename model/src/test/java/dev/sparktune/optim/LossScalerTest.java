package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code torch.amp.GradScaler}'s update rule, step by step. */
class LossScalerTest {

    @Test
    void anOverflowHalvesTheScaleAndCountsASkippedStep() {
        LossScaler scaler = new LossScaler(16, 2000);
        assertEquals(65536.0, scaler.scale(), "torch's default init_scale, 2^16");
        scaler.update(true);
        assertEquals(32768.0, scaler.scale());
        scaler.update(true);
        assertEquals(16384.0, scaler.scale());
        assertEquals(2, scaler.skippedSteps());
    }

    @Test
    void theScaleDoublesAfterGrowthIntervalCleanStepsInARowAndAnOverflowRestartsTheCount() {
        LossScaler scaler = new LossScaler(4, 3);
        scaler.update(false);
        scaler.update(false);
        assertEquals(16.0, scaler.scale(), "2 clean steps of 3");
        scaler.update(true);                  // restarts the count
        assertEquals(8.0, scaler.scale());
        scaler.update(false);
        scaler.update(false);
        assertEquals(8.0, scaler.scale(), "2 clean steps since the overflow");
        scaler.update(false);
        assertEquals(16.0, scaler.scale(), "the third clean step in a row doubles it");
        for (int i = 0; i < 3; i++) {
            scaler.update(false);
        }
        assertEquals(32.0, scaler.scale(), "and again after 3 more");
        assertEquals(1, scaler.skippedSteps());
    }

    @Test
    void theStateRoundTripsAndContinuesTheSameWay() {
        LossScaler scaler = new LossScaler(10, 3);
        scaler.update(true);
        scaler.update(false);
        scaler.update(false);
        LossScaler restored = new LossScaler(10, 3);
        restored.restore(scaler.state());
        assertEquals(scaler.state(), restored.state());
        scaler.update(false);
        restored.update(false);
        assertEquals(1024.0, restored.scale(), "the restored growth count reached 3 on the same step");
        assertEquals(scaler.state(), restored.state());
    }

    @Test
    void aCheckpointWithoutScalerStateLeavesTheInitialScale() {
        LossScaler scaler = new LossScaler(16, 2000);
        scaler.restore(Map.of("world_size", "2"));
        assertEquals(65536.0, scaler.scale());
        assertEquals(0, scaler.skippedSteps());
    }

    @Test
    void aGrowthIntervalBelowOneIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new LossScaler(16, 0));
    }
}
