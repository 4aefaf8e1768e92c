package dev.sparktune.prep;

/** One stage's row counts in {@code report.json}: rows in, rows kept ({@code out}) and rows rejected. */
public record StageCounts(String stage, long in, long out, long rejected) {
    /** Whether every row that came in went out or was rejected. Augmentation adds rows, so it is exempt. */
    public boolean conserved() {
        return in == out + rejected;
    }
}
