package dev.sparktune.deploy;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a program of this machine (python3, bash, shellcheck) to completion and keeps its exit code and output. */
record HostCommand(int exitCode, String output) {

    static HostCommand run(List<String> command, Path directory, Map<String, String> environment) {
        try {
            File output = File.createTempFile("host-command", ".out");
            try {
                ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile())
                        .redirectErrorStream(true).redirectOutput(output).redirectInput(ProcessBuilder.Redirect.from(
                                new File("/dev/null")));
                builder.environment().putAll(environment);
                Process process = builder.start();
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException(command + " did not end within 60 s");
                }
                return new HostCommand(process.exitValue(), Files.readString(output.toPath(), StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(output.toPath());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static HostCommand run(List<String> command) {
        return run(command, DeployFiles.ROOT, Map.of());
    }

    /** Whether {@code program} is on PATH. */
    static boolean available(String program) {
        return run(List.of("bash", "-c", "command -v " + program)).exitCode() == 0;
    }
}
