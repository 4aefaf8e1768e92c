package dev.sparktune.bench;

/**
 * One executor's peak memory, in bytes: its resident set ({@code VmHWM}) and its data segment ({@code VmData}, the
 * writable private memory that {@code RLIMIT_DATA} bounds).
 */
public record ExecutorPeaks(long residentBytes, long dataBytes) {

    /** The larger of each peak. */
    ExecutorPeaks max(ExecutorPeaks other) {
        return new ExecutorPeaks(Math.max(residentBytes, other.residentBytes), Math.max(dataBytes, other.dataBytes));
    }
}
