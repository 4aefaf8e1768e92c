package dev.sparktune.train;

/**
 * One task of a training run: its name (as the logs and metrics show it), its rows and its objective. Tasks of a
 * multi-task run share the model; classification tasks on a shared encoder each use their own head
 * ({@link Objective.Classification#head()}).
 */
public record TrainingTask(String name, TrainingData data, Objective objective) {

    public TrainingTask {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a training task needs a name");
        }
    }
}
