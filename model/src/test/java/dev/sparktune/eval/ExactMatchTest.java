package dev.sparktune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected values are the docstring examples of metrics/exact_match/exact_match.py in github.com/huggingface/evaluate. */
class ExactMatchTest {

    @Test
    void evaluateDocstringExamplesWithDefaultOptions() {
        // refs = ["the cat", "theater", "YELLING", "agent007"], preds = ["cat?", "theater", "yelling", "agent"] -> 0.25
        assertEquals(0.25, ExactMatch.score(List.of("cat?", "theater", "yelling", "agent"),
                List.of(List.of("the cat", "theater", "YELLING", "agent007"))));
        // refs = ["The cat sat on the mat.", ...], preds = ["The cat sat on the mat?", ...] -> round(..., 2) == 0.33
        double score = ExactMatch.score(
                List.of("The cat sat on the mat?", "Theaters are great.", "It's like comparing apples and oranges."),
                List.of(List.of("The cat sat on the mat.", "Theaters are great.", "It's like comparing oranges and apples.")));
        assertEquals(0.33, Math.round(score * 100) / 100.0);
    }
}
