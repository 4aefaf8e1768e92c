package dev.sparktune.config;

/**
 * A raw value as written by the user, before it is checked against its key.
 *
 * @param value  a String, Long, Double, Boolean, List or Map from YAML, or a String from {@code --set};
 *               null for an explicit YAML null
 * @param source the file it came from, or {@code --set}
 * @param origin where in the source, e.g. {@code line 12}
 */
record ConfigValue(Object value, String source, String origin) {
}
