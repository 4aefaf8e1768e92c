package dev.sparktune.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class NextTokenTest {
    private static final double[] LOGITS = {2.0, 1.0, 0.5, -1.0, 3.0};

    private static double[] softmax(double[] x, double t) {
        double max = java.util.Arrays.stream(x).max().orElseThrow();
        double[] p = new double[x.length];
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            p[i] = Math.exp((x[i] - max) / t);
            sum += p[i];
        }
        for (int i = 0; i < x.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Test
    void temperatureOnlyIsTheSoftmaxOfScaledLogits() {
        assertArrayEquals(softmax(LOGITS, 0.7), NextToken.probabilities(LOGITS, 0.7, 0, 1.0), 1e-12);
    }

    @Test
    void topKKeepsTheKMostLikelyTokensRenormalised() {
        double[] p = NextToken.probabilities(LOGITS, 1.0, 2, 1.0);
        double a = Math.exp(3.0);
        double b = Math.exp(2.0);
        assertArrayEquals(new double[] {b / (a + b), 0, 0, 0, a / (a + b)}, p, 1e-12);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] full = softmax(LOGITS, 1.0);
        // sorted: token 4 (0.61), token 0 (0.22), token 1 (0.08) ...; p = 0.7 needs tokens 4 and 0
        double[] p = NextToken.probabilities(LOGITS, 1.0, 0, 0.7);
        double kept = full[4] + full[0];
        assertArrayEquals(new double[] {full[0] / kept, 0, 0, 0, full[4] / kept}, p, 1e-12);
        // a tiny p still keeps the single most likely token
        assertArrayEquals(new double[] {0, 0, 0, 0, 1}, NextToken.probabilities(LOGITS, 1.0, 0, 1e-9), 1e-12);
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        double[] scores = LOGITS.clone();
        NextToken.penaliseRepetition(scores, List.of(0L, 3L, 0L), 2.0);
        assertArrayEquals(new double[] {1.0, 1.0, 0.5, -2.0, 3.0}, scores, 1e-12);
    }

    @Test
    void sampledFrequenciesFollowTheProcessedDistribution() {
        GenerationConfig config = GenerationConfig.greedy(1).sampling(0.9, 4, 0.95, 1234);
        NextToken picker = new NextToken(config);
        double[] expected = NextToken.probabilities(LOGITS, 0.9, 4, 0.95);
        float[] logits = new float[LOGITS.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) LOGITS[i];
        }
        int draws = 20_000;
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            counts[(int) picker.pick(logits, List.of())]++;
        }
        for (int i = 0; i < counts.length; i++) {
            assertEquals(expected[i], counts[i] / (double) draws, 0.02, "token " + i);
        }
        assertEquals(0, counts[3], "token 3 is outside top-k = 4");
    }

    @Test
    void greedyPicksTheArgmaxAfterThePenalty() {
        float[] logits = {2f, 1f, 0.5f, -1f, 3f};
        assertEquals(4, new NextToken(GenerationConfig.greedy(1)).pick(logits, List.of()));
        assertEquals(0, new NextToken(GenerationConfig.greedy(1).withRepetitionPenalty(4.0)).pick(logits, List.of(4L)));
        assertTrue(new NextToken(GenerationConfig.greedy(1).sampling(1.0, 1, 1.0, 7)).pick(logits, List.of()) == 4,
                "top_k = 1 sampling is greedy");
    }
}
