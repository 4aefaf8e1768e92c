package dev.sparktune.augment;

import dev.sparktune.prep.StageResult;

/** The augment stage's rows (originals and copies; nothing is rejected) and its counts. */
public record AugmentResult(StageResult result, AugmentCounts counts) {
}
