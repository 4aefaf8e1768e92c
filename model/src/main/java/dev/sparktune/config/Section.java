package dev.sparktune.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Typed reads of one config section. Every read names a key, its default and what it
 * accepts; a bad value records an error and yields the default, so one pass reports every
 * problem. The keys read are the keys the section knows: anything else the user wrote is
 * reported by {@link #rejectUnknownKeys} with the nearest known key.
 */
final class Section {
    private final String name;
    private final String defaultSource;
    private final Map<String, ConfigValue> values;
    private final List<ConfigError> errors;
    private final Map<String, Object> resolved = new LinkedHashMap<>();

    Section(String name, String defaultSource, Map<String, ConfigValue> values, List<ConfigError> errors) {
        this.name = name;
        this.defaultSource = defaultSource;
        this.values = values;
        this.errors = errors;
    }

    String name() {
        return name;
    }

    /** The value of every known key after defaults, in the order the keys were read. */
    Map<String, Object> resolved() {
        return resolved;
    }

    String string(String key, String dflt) {
        ConfigValue v = values.get(key);
        String result = dflt;
        if (v != null && v.value() != null) {
            Object raw = v.value();
            if (raw instanceof List<?> || raw instanceof Map<?, ?>) {
                error(key, v, "expected a single value, got " + describe(raw));
            } else {
                String s = raw.toString();
                result = s.isEmpty() ? null : s;
            }
        } else if (v != null) {
            result = null;
        }
        return remember(key, result);
    }

    String choice(String key, String dflt, String... allowed) {
        String s = string(key, dflt);
        if (s == null) {
            return remember(key, dflt);
        }
        String lower = s.toLowerCase(Locale.ROOT);
        if (!Arrays.asList(allowed).contains(lower)) {
            error(key, values.get(key), "'" + s + "' is not allowed; choose one of " + String.join(", ", allowed));
            return remember(key, dflt);
        }
        return remember(key, lower);
    }

    int integer(String key, int dflt, Range range) {
        return (int) integral(key, dflt, range, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    long longInteger(String key, long dflt, Range range) {
        return integral(key, dflt, range, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    private long integral(String key, long dflt, Range range, long lowest, long highest) {
        ConfigValue v = values.get(key);
        long result = dflt;
        if (v != null) {
            Long parsed = parseLong(v.value());
            if (parsed == null) {
                error(key, v, "expected a whole number " + range.describe() + ", got " + describe(v.value()));
            } else if (!range.contains(parsed) || parsed < lowest || parsed > highest) {
                error(key, v, "must be " + range.describe() + ", got " + parsed);
            } else {
                result = parsed;
            }
        }
        return remember(key, result);
    }

    double number(String key, double dflt, Range range) {
        ConfigValue v = values.get(key);
        double result = dflt;
        if (v != null) {
            Double parsed = parseDouble(v.value());
            if (parsed == null) {
                error(key, v, "expected a number " + range.describe() + ", got " + describe(v.value()));
            } else if (!range.contains(parsed)) {
                error(key, v, "must be " + range.describe() + ", got " + parsed);
            } else {
                result = parsed;
            }
        }
        return remember(key, result);
    }

    boolean flag(String key, boolean dflt) {
        ConfigValue v = values.get(key);
        boolean result = dflt;
        if (v != null) {
            Object raw = v.value();
            if (raw instanceof Boolean b) {
                result = b;
            } else if (raw instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
                result = Boolean.parseBoolean(s);
            } else {
                error(key, v, "expected true or false, got " + describe(raw));
            }
        }
        return remember(key, result);
    }

    /** A list written as a YAML sequence or as one comma-separated string (LLaMA-Factory style). */
    List<String> strings(String key, List<String> dflt) {
        ConfigValue v = values.get(key);
        List<String> result = dflt;
        if (v != null) {
            List<Object> items = asList(v.value());
            List<String> out = new ArrayList<>();
            for (Object item : items) {
                if (item instanceof List<?> || item instanceof Map<?, ?> || item == null) {
                    error(key, v, "expected a list of names, got an item " + describe(item));
                    return remember(key, dflt);
                }
                String s = item.toString().trim();
                if (!s.isEmpty()) {
                    out.add(s);
                }
            }
            result = List.copyOf(out);
        }
        return remember(key, result);
    }

    List<Double> numbers(String key, List<Double> dflt, Range range) {
        ConfigValue v = values.get(key);
        List<Double> result = dflt;
        if (v != null) {
            List<Double> out = new ArrayList<>();
            for (Object item : asList(v.value())) {
                Double d = item instanceof String s && s.isBlank() ? null : parseDouble(item);
                if (d == null || !range.contains(d)) {
                    error(key, v, "every item must be a number " + range.describe() + ", got " + describe(item));
                    return remember(key, dflt);
                }
                out.add(d);
            }
            result = List.copyOf(out);
        }
        return remember(key, result);
    }

    /**
     * A key the reference documents but nothing implements yet: writing it is an error that says so (a key that
     * validates and does nothing would be a broken promise, DESIGN.md decision 10). Its only value is null.
     */
    void notBuilt(String key, String what) {
        ConfigValue v = values.get(key);
        if (v != null && v.value() != null) {
            error(key, v, "not built yet: " + what);
        }
        remember(key, null);
    }

    /** A rule that spans keys; reported against {@code key}. */
    void require(boolean ok, String key, String problem) {
        if (!ok) {
            error(key, values.get(key), problem);
        }
    }

    /** Reports every key the user wrote that no read asked for. */
    void rejectUnknownKeys(Map<String, Set<String>> otherSections) {
        for (Map.Entry<String, ConfigValue> e : values.entrySet()) {
            String key = e.getKey();
            if (resolved.containsKey(key)) {
                continue;
            }
            String hint = otherSections.entrySet().stream()
                    .filter(s -> !s.getKey().equals(name) && s.getValue().contains(key))
                    .map(s -> "'" + key + "' belongs in section '" + s.getKey() + "'")
                    .findFirst()
                    .orElseGet(() -> "did you mean '" + Nearest.of(key, resolved.keySet()) + "'?");
            error(key, e.getValue(), "unknown key; " + hint + " (conf/reference.yaml lists every key)");
        }
    }

    private void error(String key, ConfigValue v, String problem) {
        String source = v == null ? defaultSource : v.source();
        String origin = v == null ? "" : v.origin();
        errors.add(new ConfigError(source, name + "." + key, origin, problem));
    }

    private <T> T remember(String key, T value) {
        resolved.put(key, value);
        return value;
    }

    private static List<Object> asList(Object raw) {
        if (raw == null) {
            return List.of();
        }
        if (raw instanceof List<?> list) {
            return new ArrayList<>(list);
        }
        return new ArrayList<>(Arrays.asList(raw.toString().split(",")));
    }

    private static Long parseLong(Object raw) {
        if (raw instanceof Long l) {
            return l;
        }
        if (raw instanceof Integer i) {
            return (long) i;
        }
        if (raw instanceof Double d && d == Math.rint(d) && !d.isInfinite()) {
            return d.longValue();
        }
        if (raw instanceof String s) {
            try {
                return Long.parseLong(s.trim().replace("_", ""));
            } catch (NumberFormatException notWhole) {
                Double d = parseDouble(s);
                return d != null && d == Math.rint(d) && Math.abs(d) < 9e18 ? d.longValue() : null;
            }
        }
        return null;
    }

    private static Double parseDouble(Object raw) {
        if (raw instanceof Number n) {
            return n.doubleValue();
        }
        if (raw instanceof String s) {
            try {
                // YAML 1.1 reads 1e-4 (no dot) as a string; accept it as the number it plainly is.
                double d = Double.parseDouble(s.trim());
                return Double.isFinite(d) ? d : null;
            } catch (NumberFormatException notANumber) {
                return null;
            }
        }
        return null;
    }

    private static String describe(Object raw) {
        if (raw == null) {
            return "nothing (null)";
        }
        if (raw instanceof List<?>) {
            return "a list " + raw;
        }
        if (raw instanceof Map<?, ?>) {
            return "a mapping";
        }
        return "'" + raw + "'";
    }
}
