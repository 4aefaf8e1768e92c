package dev.sparktune.train;

/** One task (dataset) of a multi-task run: its name, as the logs show it, and how many rows it has. */
public record Task(String name, int rows) {
    public Task {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a task needs a name");
        }
        if (rows < 1) {
            throw new IllegalArgumentException("task '" + name + "' has " + rows + " rows; a task needs at least one");
        }
    }
}
