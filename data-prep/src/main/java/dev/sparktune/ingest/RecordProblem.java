package dev.sparktune.ingest;

/** Why one input record cannot become a prepared row; the message is the reason written to {@code _rejected/}. */
final class RecordProblem extends Exception {
    RecordProblem(String reason) {
        super(reason, null, false, false);
    }
}
