package dev.sparktune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ProgressTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void steadyStepsGiveTokensPerSecondAndEta() {
        Throughput t = new Throughput(10, 5 * SECOND);
        assertEquals(0, t.tokensPerSecond());
        assertTrue(t.eta(100).isEmpty());
        for (int i = 1; i <= 4; i++) {
            t.step(1000, 5 * SECOND + i * SECOND / 2); // 1,000 tokens every 0.5 s
        }
        assertEquals(2000, t.tokensPerSecond(), 1e-9);
        assertEquals(Duration.ofMillis(500), t.timePerStep().orElseThrow());
        assertEquals(Duration.ofSeconds(50), t.eta(100).orElseThrow());
        assertEquals(Duration.ZERO, t.eta(0).orElseThrow());
    }

    @Test
    void onlyTheLastWindowOfStepsCounts() {
        Throughput t = new Throughput(2, 0);
        t.step(500, 10 * SECOND);   // a slow first step (warm-up)
        assertEquals(50, t.tokensPerSecond(), 1e-9);
        t.step(1000, 11 * SECOND);
        // window: the warm-up step and this one, 1,500 tokens in 11 s
        assertEquals(1500 / 11.0, t.tokensPerSecond(), 1e-9);
        t.step(3000, 12 * SECOND);
        // the warm-up step left the window: 4,000 tokens in the 2 s since it ended
        assertEquals(2000, t.tokensPerSecond(), 1e-9);
        assertEquals(Duration.ofSeconds(10), t.eta(10).orElseThrow());
        t.step(1000, 14 * SECOND);
        assertEquals(4000 / 3.0, t.tokensPerSecond(), 1e-9);
        assertEquals(Duration.ofMillis(1500 * 7), t.eta(7).orElseThrow());
        assertThrows(IllegalArgumentException.class, () -> t.step(1, 13 * SECOND));
    }

    @Test
    void progressLineFormat() {
        assertEquals("step 120/1000 | loss 1.2345 | lr 2.0e-05 | 1,234 tok/s | ETA 12m03s",
                ProgressLine.format(120, 1000, 1.23449, 2e-5, 1234.4, Optional.of(Duration.ofSeconds(723))));
        assertEquals("step 1/10 | loss 0.5000 | lr 1.5e-03 | 987,654 tok/s | ETA --",
                ProgressLine.format(1, 10, 0.5, 1.5e-3, 987_653.6, Optional.empty()));
    }

    @Test
    void validationLineFormat() {
        assertEquals("validation 1.3100 | cls accuracy 0.7500 f1 0.7033 loss 1.2000 | sft loss 1.4200 perplexity 4.1371",
                ProgressLine.validation(Map.of("validation", 1.31, "validation/cls/loss", 1.2, "validation/cls/accuracy",
                        0.75, "validation/cls/f1", 0.70333, "validation/sft/loss", 1.42, "validation/sft/perplexity",
                        4.137120)));
    }

    @Test
    void durationsRoundToWholeSeconds() {
        assertEquals("0s", ProgressLine.duration(Duration.ZERO));
        assertEquals("45s", ProgressLine.duration(Duration.ofMillis(44_600)));
        assertEquals("1m00s", ProgressLine.duration(Duration.ofMillis(59_700)));
        assertEquals("12m03s", ProgressLine.duration(Duration.ofSeconds(12 * 60 + 3)));
        assertEquals("2h05m09s", ProgressLine.duration(Duration.ofSeconds(2 * 3600 + 5 * 60 + 9)));
        assertEquals("30h00m00s", ProgressLine.duration(Duration.ofHours(30)));
    }
}
