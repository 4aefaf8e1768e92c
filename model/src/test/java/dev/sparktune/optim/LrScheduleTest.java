package dev.sparktune.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sparktune.config.ConfigLoader;
import dev.sparktune.config.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Hugging Face {@code get_scheduler}'s formulas, step by step over a run of 100 with 10 warmup steps. */
class LrScheduleTest {

    private static final int TOTAL = 100;
    private static final int WARMUP = 10;
    private static final double MIN_LR_RATE = 0.1;

    @ParameterizedTest
    @ValueSource(strings = {"constant", "linear", "cosine", "cosine_with_min_lr"})
    void everyStepOfARunFollowsTheClosedForm(String type) {
        LrSchedule schedule = new LrSchedule(type, TOTAL, WARMUP, MIN_LR_RATE);
        for (int t = 0; t <= TOTAL; t++) {
            double expected;
            if (t < WARMUP) {
                expected = t / (double) WARMUP;
            } else {
                double progress = (t - WARMUP) / (double) (TOTAL - WARMUP);
                double cosine = (1 + Math.cos(Math.PI * progress)) / 2;
                expected = switch (type) {
                    case "constant" -> 1;
                    case "linear" -> 1 - progress;
                    case "cosine" -> cosine;
                    default -> MIN_LR_RATE + (1 - MIN_LR_RATE) * cosine;
                };
            }
            assertEquals(expected, schedule.factor(t), 1e-12, type + " at step " + t);
            assertEquals(3e-4 * expected, schedule.learningRate(3e-4, t), 1e-16, type + " at step " + t);
        }
    }

    @Test
    void warmupBoundariesAndKnownValues() {
        LrSchedule linear = new LrSchedule("linear", TOTAL, WARMUP, 0);
        LrSchedule cosine = new LrSchedule("cosine", TOTAL, WARMUP, 0);
        LrSchedule floored = new LrSchedule("cosine_with_min_lr", TOTAL, WARMUP, MIN_LR_RATE);
        LrSchedule constant = new LrSchedule("constant", TOTAL, WARMUP, 0);
        for (LrSchedule s : List.of(linear, cosine, floored, constant)) {
            assertEquals(0.0, s.factor(0), s.type() + ": the first update is at lr 0 during warmup");
            assertEquals(0.9, s.factor(WARMUP - 1), 1e-15, s.type());
            assertEquals(1.0, s.factor(WARMUP), s.type() + ": the peak right after warmup");
        }
        assertEquals(0.5, linear.factor(55), 1e-15);
        assertEquals(0.5, cosine.factor(55), 1e-15);
        assertEquals(0.55, floored.factor(55), 1e-15);
        assertEquals(0.0, linear.factor(TOTAL));
        assertEquals(0.0, cosine.factor(TOTAL), 1e-15);
        assertEquals(MIN_LR_RATE, floored.factor(TOTAL), 1e-15);
        assertEquals(1.0, constant.factor(TOTAL));
        assertEquals(0.0, linear.factor(TOTAL + 5), "HF's linear decay stays at 0 past the end");
    }

    @Test
    void withoutWarmupTheFirstUpdateRunsAtThePeak() {
        assertEquals(1.0, new LrSchedule("linear", TOTAL, 0, 0).factor(0));
        assertEquals(1.0, new LrSchedule("cosine", TOTAL, 0, 0).factor(0));
        assertEquals(1.0 - 1.0 / TOTAL, new LrSchedule("linear", TOTAL, 0, 0).factor(1), 1e-15);
    }

    @Test
    void warmupRatioRoundsUpAsHuggingFaceDoes() {
        assertEquals(10, LrSchedule.warmupSteps(100, 0, 0.1));
        assertEquals(1, LrSchedule.warmupSteps(100, 0, 0.001));
        // 100 * 0.07 is 7.000000000000001 in doubles: HF's math.ceil makes it 8, and so do we
        assertEquals(8, LrSchedule.warmupSteps(100, 0, 0.07));
        assertEquals(25, LrSchedule.warmupSteps(100, 25, 0.0));
        assertEquals(0, LrSchedule.warmupSteps(100, 0, 0.0));
    }

    @Test
    void fromTheJobConfig() {
        TrainConfig ratio = train("lr_scheduler_type: cosine_with_min_lr\n  min_lr_rate: 0.2\n  warmup_ratio: 0.05\n");
        assertEquals(new LrSchedule("cosine_with_min_lr", 200, 10, 0.2), LrSchedule.from(ratio, 200));

        TrainConfig steps = train("lr_scheduler_type: constant\n  warmup_steps: 4\n");
        LrSchedule constantWithWarmup = LrSchedule.from(steps, 50);
        assertEquals(new LrSchedule("constant", 50, 4, 0.0), constantWithWarmup);
        assertEquals(0.5, constantWithWarmup.factor(2));
        assertEquals(1.0, constantWithWarmup.factor(4));

        assertEquals(new LrSchedule("linear", 30, 0, 0.0), LrSchedule.from(train(""), 30), "the config's defaults");
    }

    @Test
    void badValuesAreRefusedWithTheirName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LrSchedule("polynomial", 10, 0, 0));
        assertTrue(e.getMessage().contains("polynomial") && e.getMessage().contains("cosine_with_min_lr"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule("linear", 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule("linear", 10, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule("cosine_with_min_lr", 10, 0, 1.5));
    }

    private static TrainConfig train(String keys) {
        return ConfigLoader.parse("train:\n  " + keys, "test.yaml", List.of()).job().train();
    }
}
