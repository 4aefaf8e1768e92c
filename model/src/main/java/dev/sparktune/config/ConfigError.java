package dev.sparktune.config;

/**
 * One problem found in a job config.
 *
 * @param source the YAML file, or {@code --set} for a command-line override
 * @param key    the full key, {@code section.name}, or just the section
 * @param origin where the value came from, e.g. {@code line 12}; empty when not known
 * @param problem what is wrong and what is allowed
 */
public record ConfigError(String source, String key, String origin, String problem) {

    @Override
    public String toString() {
        String where = origin.isEmpty() ? "" : " (" + origin + ")";
        return source + ": " + key + where + ": " + problem;
    }
}
