package dev.sparktune.training;

import java.io.Serializable;

/**
 * What a rank task returns to the driver: where its run started ({@code resumedFrom}, null from the pretrained
 * weights) and ended, where rank 0 exported the trained model (null on other ranks), and in which stage attempt.
 */
public record RankOutcome(int rank, long steps, double lastLoss, String checkpoint, String resumedFrom, String export,
                          int stageAttempt)
        implements Serializable {
}
