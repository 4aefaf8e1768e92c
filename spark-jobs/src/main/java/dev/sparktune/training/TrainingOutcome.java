package dev.sparktune.training;

import java.util.List;

/**
 * How a training job ended, as the driver saw it.
 *
 * @param checkpoint    the final checkpoint folder
 * @param resumedFrom   the checkpoint the last stage attempt started from; null when it started from the model
 * @param export        the trained model as Hugging Face tools load it: {@code <output_dir>/adapter} or {@code /model}
 * @param wholeModel    true when {@code export} is a whole model folder (full, freeze, BitFit), false when it is a
 *                      PEFT adapter on {@code model_name_or_path}
 * @param stageAttempts attempts of the barrier stage, more than 1 when Spark retried it after a lost rank
 * @param progress      the progress updates rank 0 sent while training, in arrival order (the latest 10,000 when
 *                      there were more)
 */
public record TrainingOutcome(long steps, double lastLoss, String checkpoint, String resumedFrom, String export,
                              boolean wholeModel, int stageAttempts,
                              List<ProgressUpdate> progress) {
}
