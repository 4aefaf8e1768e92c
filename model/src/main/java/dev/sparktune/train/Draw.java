package dev.sparktune.train;

/**
 * One step of an epoch plan: row {@code row} (0-based, in the task's own row numbering) of task {@code task};
 * -1 for the row of a plan that draws tasks only.
 */
public record Draw(int task, int row) {
}
