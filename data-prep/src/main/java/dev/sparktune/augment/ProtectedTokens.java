package dev.sparktune.augment;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Finds the parts of a text augmentation must never change: masking placeholders the clean stage writes
 * ({@code <EMAIL>}, {@code <PHONE>}), URLs, e-mail addresses, numbers, and a configured list of tokens.
 */
public final class ProtectedTokens {
    private static final String BUILT_IN = String.join("|",
            "<[A-Z][A-Z0-9_]*>",
            "(?:https?|ftp)://\\S+",
            "www\\.\\S+",
            // possessive, so no stack per label or digit group (issue 19); an address starts where its run of
            // characters starts or where the previous token ended, so a long run without '@' is scanned once
            "(?:(?<![\\w.+-])|\\G)[\\w.+-]++@[\\w-]++(?:\\.[\\w-]++)++",
            "\\p{Nd}++(?:[.,:/-]\\p{Nd}++)*+");

    private final Pattern pattern;

    public ProtectedTokens(List<String> configured) {
        String extra = configured.stream()
                .filter(token -> !token.isBlank())
                .sorted(Comparator.comparingInt(String::length).reversed())
                .map(token -> "(?<![\\p{L}\\p{Nd}])" + Pattern.quote(token) + "(?![\\p{L}\\p{Nd}])")
                .collect(Collectors.joining("|"));
        pattern = Pattern.compile(extra.isEmpty() ? BUILT_IN : extra + "|" + BUILT_IN);
    }

    /** The text cut into protected spans ({@link Token#fixed}) and the free text between them (plain tokens). */
    public List<Token> split(String text) {
        List<Token> parts = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int at = 0;
        while (m.find()) {
            if (m.start() > at) {
                parts.add(Token.other(text.substring(at, m.start())));
            }
            parts.add(Token.fixed(m.group()));
            at = m.end();
        }
        if (at < text.length()) {
            parts.add(Token.other(text.substring(at)));
        }
        return parts;
    }
}
