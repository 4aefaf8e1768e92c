package dev.sparktune.clean;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces personal data in text with mask tokens ({@code <EMAIL>}, {@code <PHONE>}, {@code <CARD>}, {@code <ID>}
 * by default). Masking errs on the side of leaving numbers alone: dates, IP addresses, decimals, amounts with
 * thousands separators, short numbers and digit groups that fail a card's Luhn check or an ID's check digit are
 * kept.
 */
public final class PiiMasker implements Serializable {
    private static final long serialVersionUID = 1L;

    private static final Pattern EMAIL = Pattern.compile(
            "(?<![\\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    + "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,}(?![\\w-])");
    /**
     * A run of digit groups joined by single separators, optionally with a leading '+', parenthesised area codes
     * and a trailing X (Chinese IDs). It may not start inside a word, decimal, URL path or address, nor stop
     * before one.
     */
    private static final Pattern NUMBER = Pattern.compile(
            "(?<![\\w.,/@+-])\\+?(?:\\(\\d{1,4}\\)|\\d+)(?:[ .-]?(?:\\(\\d{1,4}\\)|\\d+))*[Xx]?(?![\\w@/]|[.,]\\d)");
    private static final Pattern DATE = Pattern.compile(
            "\\d{4}[-./]\\d{1,2}[-./]\\d{1,2}|\\d{1,2}[-./]\\d{1,2}[-./](?:\\d{4}|\\d{2})");
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(?:\\.\\d{1,3}){3}");
    private static final Pattern SSN_SHAPE = Pattern.compile("\\d{3}-\\d{2}-\\d{4}");
    private static final Pattern SSN = Pattern.compile("(?!000|666|9\\d\\d)\\d{3}-(?!00)\\d{2}-(?!0000)\\d{4}");
    private static final Pattern CN_RESIDENT_ID = Pattern.compile("\\d{17}[\\dXx]");
    private static final Pattern CARD_SHAPE = Pattern.compile("\\d+(?:[ -]\\d+)*");
    private static final Pattern GROUP = Pattern.compile("\\d+");

    private final EnumMap<PiiKind, String> masks;

    /** Masks the kinds that are keys of {@code masks}, each with its token. */
    public PiiMasker(Map<PiiKind, String> masks) {
        this.masks = masks.isEmpty() ? new EnumMap<>(PiiKind.class) : new EnumMap<>(masks);
    }

    public boolean isEnabled() {
        return !masks.isEmpty();
    }

    public String mask(String s) {
        if (s == null || masks.isEmpty()) {
            return s;
        }
        String t = s;
        String emailMask = masks.get(PiiKind.EMAIL);
        if (emailMask != null && t.indexOf('@') >= 0) {
            t = EMAIL.matcher(t).replaceAll(Matcher.quoteReplacement(emailMask));
        }
        if (masks.containsKey(PiiKind.PHONE) || masks.containsKey(PiiKind.CARD) || masks.containsKey(PiiKind.ID)) {
            t = maskNumbers(t);
        }
        return t;
    }

    private String maskNumbers(String s) {
        Matcher m = NUMBER.matcher(s);
        StringBuilder out = null;
        int last = 0;
        while (m.find()) {
            PiiKind kind = classify(m.group());
            String token = kind == null ? null : masks.get(kind);
            if (token == null) {
                continue;
            }
            if (out == null) {
                out = new StringBuilder(s.length());
            }
            out.append(s, last, m.start()).append(token);
            last = m.end();
        }
        if (out == null) {
            return s;
        }
        return out.append(s, last, s.length()).toString();
    }

    /** The kind of personal number {@code candidate} is, or null for an ordinary number. */
    static PiiKind classify(String candidate) {
        String digits = candidate.replaceAll("[^0-9Xx]", "");
        int n = digits.length();
        if (n < 7 || DATE.matcher(candidate).matches() || IPV4.matcher(candidate).matches()) {
            return null;
        }
        if (SSN.matcher(candidate).matches()
                || (CN_RESIDENT_ID.matcher(candidate).matches() && chineseIdCheckDigitValid(candidate))) {
            return PiiKind.ID;
        }
        if (SSN_SHAPE.matcher(candidate).matches()) {
            return null; // the shape of an SSN that cannot be issued: no phone number is written 3-2-4
        }
        if (digits.indexOf('X') >= 0 || digits.indexOf('x') >= 0) {
            return null;
        }
        boolean plus = candidate.startsWith("+");
        if (!plus && n >= 13 && n <= 19 && CARD_SHAPE.matcher(candidate).matches() && luhnValid(digits)) {
            return PiiKind.CARD;
        }
        return looksLikePhone(candidate, n, plus) ? PiiKind.PHONE : null;
    }

    private static boolean looksLikePhone(String candidate, int digitCount, boolean plus) {
        if (digitCount > 15) {
            return false;
        }
        List<String> groups = new ArrayList<>();
        Matcher g = GROUP.matcher(candidate);
        while (g.find()) {
            groups.add(g.group());
        }
        if (groups.size() == 1) {
            // one unseparated run: a phone only when as long as a full national number
            return digitCount >= 10 || plus;
        }
        if (groups.get(0).length() > 4) {
            return false;
        }
        boolean allThree = true;
        for (int i = 1; i < groups.size(); i++) {
            int len = groups.get(i).length();
            if (len < 2 || len > 4) {
                return false;
            }
            allThree &= len == 3;
        }
        boolean parenthesised = candidate.indexOf('(') >= 0;
        boolean dashOrDot = candidate.indexOf('-') >= 0 || candidate.indexOf('.') >= 0;
        if (allThree && !parenthesised && !plus && candidate.indexOf('-') < 0) {
            return false; // 1.234.567 or 12 345 678: an amount with thousands separators
        }
        // space-separated short groups are phone numbers only with a marker a list of scores does not have
        return plus || parenthesised || dashOrDot || candidate.startsWith("0") || digitCount >= 10;
    }

    /** The Luhn (mod 10) check every payment card number passes. */
    static boolean luhnValid(String digits) {
        int sum = 0;
        boolean twice = false;
        for (int i = digits.length() - 1; i >= 0; i--) {
            int d = digits.charAt(i) - '0';
            if (twice) {
                d *= 2;
                if (d > 9) {
                    d -= 9;
                }
            }
            sum += d;
            twice = !twice;
        }
        return sum % 10 == 0;
    }

    /** GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits, 'X' standing for 10. */
    static boolean chineseIdCheckDigitValid(String id) {
        int sum = 0;
        for (int i = 0; i < 17; i++) {
            int weight = (1 << (17 - i)) % 11;
            sum += (id.charAt(i) - '0') * weight;
        }
        int check = (12 - sum % 11) % 11;
        char last = Character.toUpperCase(id.charAt(17));
        return check == 10 ? last == 'X' : last == (char) ('0' + check);
    }
}
