package dev.sparktune.train;

/** One step of an epoch plan: row {@code row} (0-based, in the task's own row numbering) of task {@code task}. */
public record Draw(int task, int row) {
}
