package dev.sparktune.cli;

import dev.sparktune.config.ConfigError;
import dev.sparktune.config.ConfigException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** How every command reports a job YAML that does not validate: each problem on its own line, then a count. */
final class ConfigProblems {
    /** The exit code for a job the user must fix (config, registry, a dataset that matches no file). */
    static final int INVALID = 2;

    private ConfigProblems() {
    }

    /** Prints the problems of {@code file} and returns {@link #INVALID}. */
    static int report(PrintWriter err, ConfigException e, Path file) {
        for (ConfigError error : e.errors()) {
            err.println(error);
        }
        err.println(e.errors().size() + (e.errors().size() == 1 ? " problem" : " problems") + " in " + file);
        err.flush();
        return INVALID;
    }
}
