package dev.sparktune.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The start of a command line for a benchmark's child JVM, started as this one was. */
public final class ChildJvm {
    private ChildJvm() {
    }

    /**
     * This JVM's {@code java}, its options less agents and debuggers (and less those starting with one of
     * {@code droppedPrefixes}, which the caller sets itself), then {@code -cp} and its classpath: the caller appends
     * its own options, the main class and the arguments.
     */
    public static List<String> command(String... droppedPrefixes) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!dropped(option, droppedPrefixes)) {
                command.add(option);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path")));
        return command;
    }

    private static boolean dropped(String option, String[] droppedPrefixes) {
        if (option.startsWith("-javaagent") || option.startsWith("-agentlib") || option.startsWith("-Xrunjdwp")) {
            return true;
        }
        for (String prefix : droppedPrefixes) {
            if (option.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
