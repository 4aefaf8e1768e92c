package dev.sparktune.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** What a benchmark ran on, printed above its tables: cores, memory, CPU model and the load when it started. */
public final class Machine {
    private Machine() {
    }

    public static String describe() {
        long memory = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        return String.format(Locale.ROOT, "%d cores, %.1f GiB memory, %s, %s %s, Java %s; load average %s",
                Runtime.getRuntime().availableProcessors(), memory / (double) (1L << 30), cpuModel(),
                System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"),
                read("/proc/loadavg", "unknown"));
    }

    /**
     * CPU seconds every core of the machine has spent busy since boot (user, nice, system, interrupts, steal; not idle
     * or waiting for I/O), from Linux's {@code /proc/stat}, counted in its 1/100 s ticks; NaN elsewhere. Two readings
     * around a piece of work tell how many cores it kept busy, whichever processes did the work.
     */
    public static double busyCpuSeconds() {
        String first = read("/proc/stat", "").lines().findFirst().orElse("");
        if (!first.startsWith("cpu ")) {
            return Double.NaN;
        }
        String[] ticks = first.substring(4).trim().split("\\s+");
        long busy = 0;
        for (int field : new int[] {0, 1, 2, 5, 6, 7}) {     // user nice system irq softirq steal
            busy += Long.parseLong(ticks[field]);
        }
        return busy / 100.0;
    }

    private static String cpuModel() {
        for (String line : read("/proc/cpuinfo", "").split("\n")) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return "CPU model unknown";
    }

    private static String read(String file, String otherwise) {
        try {
            return Files.readString(Path.of(file)).trim();
        } catch (IOException e) {
            return otherwise;
        }
    }
}
