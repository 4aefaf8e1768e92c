package dev.sparktune.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Size lines of Linux's {@code /proc/<pid>/status}, in bytes: {@code VmRSS} (resident now), {@code VmHWM} (the
 * resident peak so far), {@code VmData} (the data segment now: the writable private memory that
 * {@code RLIMIT_DATA} bounds).
 */
public final class ProcessStatus {
    private ProcessStatus() {
    }

    /** {@code field} of this process. */
    public static long self(String field) throws IOException {
        return of("self", field).orElseThrow(() -> new IllegalStateException("no " + field + " in /proc/self/status"));
    }

    /** {@code field} of process {@code pid}; empty when the process has ended (or has no such line). */
    public static OptionalLong of(long pid, String field) {
        try {
            return of(Long.toString(pid), field);
        } catch (IOException ended) {
            return OptionalLong.empty();
        }
    }

    private static OptionalLong of(String process, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", process, "status"))) {
            if (line.startsWith(field + ":")) {
                return OptionalLong.of(1024 * Long.parseLong(line.replaceAll("[^0-9]", "")));   // kB there
            }
        }
        return OptionalLong.empty();
    }
}
