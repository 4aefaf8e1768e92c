package dev.sparktune.tokenize;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's str methods for jinjava. Hugging Face renders chat templates with Python's Jinja2, so templates call
 * {@code content.strip()}, {@code role.startswith('sys')}, {@code text.split('</think>')}; jinjava would look
 * for Java methods of those names (and Java's {@code split} takes a regex). This resolver answers those calls on
 * strings before jinjava's own resolver sees them; everything else falls through.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || !(method instanceof String name)) {
            return null;
        }
        Object[] args = params == null ? new Object[0] : params;
        Object result = switch (name) {
            case "strip" -> rstrip(lstrip(s, chars(args)), chars(args));
            case "lstrip" -> lstrip(s, chars(args));
            case "rstrip" -> rstrip(s, chars(args));
            case "startswith" -> anyOf(args, s::startsWith);
            case "endswith" -> anyOf(args, s::endsWith);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
                    + s.substring(1).toLowerCase(Locale.ROOT);
            case "split" -> split(s, args);
            case "find" -> (long) s.indexOf(String.valueOf(args[0]));
            default -> null;
        };
        if (result != null) {
            context.setPropertyResolved(true);
        }
        return result;
    }

    private static String chars(Object[] args) {
        return args.length == 0 || args[0] == null ? null : String.valueOf(args[0]);
    }

    /** Python strips whitespace by default, or any of the given characters. */
    private static boolean strippable(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    private static String lstrip(String s, String chars) {
        int start = 0;
        while (start < s.length() && strippable(s.charAt(start), chars)) {
            start++;
        }
        return s.substring(start);
    }

    private static String rstrip(String s, String chars) {
        int end = s.length();
        while (end > 0 && strippable(s.charAt(end - 1), chars)) {
            end--;
        }
        return s.substring(0, end);
    }

    /** {@code startswith} and {@code endswith} take one string or a tuple (a list in jinjava) of them. */
    private static Boolean anyOf(Object[] args, Predicate<String> test) {
        if (args.length != 1) {
            return null;
        }
        if (args[0] instanceof List<?> options) {
            return options.stream().anyMatch(option -> test.test(String.valueOf(option)));
        }
        return test.test(String.valueOf(args[0]));
    }

    /** Upper-case each letter that follows a non-letter, lower-case the rest, as Python's str.title(). */
    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousIsLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(previousIsLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            previousIsLetter = Character.isLetter(c);
        }
        return out.toString();
    }

    /**
     * {@code split()} cuts at runs of whitespace and drops empty pieces; {@code split(sep[, maxsplit])} cuts at
     * every literal {@code sep} and keeps empty pieces.
     */
    private static List<String> split(String s, Object[] args) {
        String separator = chars(args);
        int maxSplit = args.length > 1 && args[1] instanceof Number n ? n.intValue() : -1;
        List<String> parts = new ArrayList<>();
        if (separator == null) {
            int i = 0;
            while (true) {
                while (i < s.length() && strippable(s.charAt(i), null)) {
                    i++;
                }
                if (i == s.length()) {
                    return parts;
                }
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(s.substring(i));
                    return parts;
                }
                int end = i;
                while (end < s.length() && !strippable(s.charAt(end), null)) {
                    end++;
                }
                parts.add(s.substring(i, end));
                i = end;
            }
        }
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int start = 0;
        for (int at = s.indexOf(separator); at >= 0 && (maxSplit < 0 || parts.size() < maxSplit);
             at = s.indexOf(separator, start)) {
            parts.add(s.substring(start, at));
            start = at + separator.length();
        }
        parts.add(s.substring(start));
        return parts;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
