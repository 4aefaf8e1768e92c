package dev.sparktune.ingest;

import java.util.List;

/** A {@code dataset_info.yaml} that cannot be used; carries every problem found, each naming dataset and key. */
public final class DatasetInfoException extends RuntimeException {
    private final List<String> problems;

    public DatasetInfoException(String source, List<String> problems) {
        super(source + ":\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
